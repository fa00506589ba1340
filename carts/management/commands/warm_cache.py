"""Warm the cache with the most-added products (the runbook's cache-warming step). Idempotent."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from carts.services.catalog import POPULAR_PRODUCTS_KEY, product_cache_warm


class Command(BaseCommand):
    help = "Cache the most-added products and their list under `popular_products` (one hour)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=50, help="How many products (50).")

    def handle(self, *args, limit: int, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        cached, popular = product_cache_warm(limit=limit)
        source = "from the product service" if settings.PRODUCT_SERVICE_URL else "not needed"
        self.stdout.write(
            f"{POPULAR_PRODUCTS_KEY}: {popular} products; product data cached: {cached} ({source})."
        )
