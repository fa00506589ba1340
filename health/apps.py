from django.apps import AppConfig
from django.core import checks

from health.deploy_checks import health_token


class HealthConfig(AppConfig):
    name = "health"

    def ready(self) -> None:
        checks.register(health_token, checks.Tags.security, deploy=True)
