"""`manage.py check --deploy` asks for a health token: without one /metrics cannot be scraped
(health/deploy_checks.py). With production's settings and a token it passes, warnings
included (tests/addtocart/test_settings.py)."""

import subprocess

import pytest

from health.deploy_checks import health_token
from tests.addtocart.test_settings import PRODUCTION, django_check


def check_deploy(**env: str) -> subprocess.CompletedProcess:
    return django_check("--deploy", "--fail-level", "WARNING", **env)


@pytest.mark.parametrize(
    ("token", "warning"),
    [("", "health.W001"), ("short-token", "health.W002"), ("x" * 32, None)],
)
def test_the_health_token_check(settings, token, warning):
    settings.HEALTH_TOKEN = token
    assert [message.id for message in health_token(None)] == ([warning] if warning else [])


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("", "(health.W001) HEALTH_TOKEN is not set: /metrics answers 401 to every scrape"),
        ("short-token", "(health.W002) HEALTH_TOKEN has fewer than 32 characters"),
    ],
)
def test_check_deploy_warns_without_a_long_health_token(token, says):
    result = check_deploy(**{**PRODUCTION, "HEALTH_TOKEN": token})
    assert result.returncode != 0
    assert says in result.stderr
    assert "secrets.token_urlsafe(32)" in result.stderr  # the hint says how to make one


def test_check_deploy_passes_with_a_health_token():
    result = check_deploy(**PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_check_runs_only_for_deploy():
    result = django_check("--fail-level", "WARNING", **{**PRODUCTION, "HEALTH_TOKEN": ""})
    assert result.returncode == 0, result.stdout + result.stderr
