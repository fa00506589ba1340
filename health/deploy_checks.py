"""`manage.py check --deploy`: the health token that Prometheus and on-call engineers need.

Without HEALTH_TOKEN the service fails closed (health/access.py): probes still work, but
`/metrics` answers 401 to every scrape and the health endpoints' details are for staff
sessions only. A short token could be guessed.
"""

from django.conf import settings
from django.core import checks

MIN_TOKEN_LENGTH = 32
MAKE_ONE = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def health_token(app_configs, **kwargs) -> list[checks.CheckMessage]:
    token = settings.HEALTH_TOKEN
    if not token:
        return [
            checks.Warning(
                "HEALTH_TOKEN is not set: /metrics answers 401 to every scrape, and the "
                "health endpoints show their details to signed-in staff only.",
                hint=f"Set HEALTH_TOKEN (e.g. {MAKE_ONE}) in the Secret and give the same "
                "value to Prometheus (docs/deployment.md, 'Prometheus and Grafana').",
                id="health.W001",
            )
        ]
    if len(token) < MIN_TOKEN_LENGTH:
        return [
            checks.Warning(
                f"HEALTH_TOKEN has fewer than {MIN_TOKEN_LENGTH} characters: it could be guessed.",
                hint=f"Make a longer one: {MAKE_ONE}.",
                id="health.W002",
            )
        ]
    return []
