from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.backends.signals import connection_created

from addtocart.observability.logging import install_slow_query_log


class AddToCartConfig(AppConfig):
    """The project package as an app, so that its start-up hooks run in every process."""

    name = "addtocart"
    default = True

    def ready(self) -> None:
        connection_created.connect(install_slow_query_log, dispatch_uid="addtocart-slow-queries")


class AdminConfig(admin_apps.AdminConfig):
    """Django's admin, on a site whose login is rate-limited (addtocart/admin_site.py)."""

    default = False  # named in INSTALLED_APPS; AddToCartConfig is this module's default
    default_site = "addtocart.admin_site.AdminSite"
