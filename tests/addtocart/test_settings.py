"""The settings refuse to start unsafely: DEBUG off and no secret is an error, not a default."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE_ENV = {
    "PATH": os.environ["PATH"],
    "DATABASE_URL": "sqlite:///:memory:",
    "ALLOWED_HOSTS": "shop.example.com",
}
PRODUCTION = {
    "DJANGO_SECRET_KEY": "kq3-Vb8_zT0pW2mL9xR4sN7cJ1hF6gD5aE0yU3iO8tP2wQ7eR4tY9uI1oP6aS3dF",
    "JWT_SIGNING_KEY": "Zx7-Cv1_bN4mQw9Er2Ty5Ui8Op3As6Df0Gh1Jk4Lz7Xc2Vb5Nm8Qw3Er6Ty9Ui0Op",
    "TRUSTED_PROXIES": "1",
    "HEALTH_TOKEN": "Hq2-Wt6_rY1uI8oP3aS5dF7gH0jK2lZ4xC9vB6nM1qW8eR3tY5u",
}


def django_check(*options: str, **env: str) -> subprocess.CompletedProcess:
    """`manage.py check` with `options`, in the environment BASE_ENV and `env` make."""
    return subprocess.run(
        [sys.executable, "manage.py", "check", *options],
        cwd=ROOT,
        env={**BASE_ENV, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "DJANGO_SECRET_KEY is not set"),
        ({"DJANGO_SECRET_KEY": "a-real-secret"}, "JWT_SIGNING_KEY is not set"),
    ],
)
def test_refuses_to_start_without_secrets(env, missing):
    result = django_check(**env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_refuses_the_same_key_for_django_and_jwt():
    result = django_check(DJANGO_SECRET_KEY="same", JWT_SIGNING_KEY="same")
    assert result.returncode != 0
    assert "JWT_SIGNING_KEY must differ" in result.stderr


def test_starts_with_both_secrets_and_debug_off():
    result = django_check(DJANGO_SECRET_KEY="one-secret", JWT_SIGNING_KEY="another-secret")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEBUG", "maybe"), ("CART_MAX_LINES", "lots"), ("THROTTLE_USER", "600 per minute")],
)
def test_refuses_malformed_values(name, value):
    result = django_check(DJANGO_SECRET_KEY="s1", JWT_SIGNING_KEY="s2", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_allowed_hosts_are_required_outside_debug():
    result = django_check(**{**PRODUCTION, "ALLOWED_HOSTS": ""})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_deployment_checks_pass_with_production_settings():
    result = django_check("--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
