"""The settings refuse to start unsafely: DEBUG off and no secret is an error, not a default."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE_ENV = {"PATH": os.environ["PATH"], "DATABASE_URL": "sqlite:///:memory:"}


def django_check(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
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


@pytest.mark.parametrize(("name", "value"), [("DEBUG", "maybe"), ("CART_MAX_LINES", "lots")])
def test_refuses_malformed_values(name, value):
    result = django_check(DJANGO_SECRET_KEY="s1", JWT_SIGNING_KEY="s2", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr
