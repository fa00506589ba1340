from django.apps import AppConfig
from django.db.backends.signals import connection_created

from addtocart.observability.logging import install_slow_query_log


class AddToCartConfig(AppConfig):
    """The project package as an app, so that its start-up hooks run in every process."""

    name = "addtocart"

    def ready(self) -> None:
        connection_created.connect(install_slow_query_log, dispatch_uid="addtocart-slow-queries")
