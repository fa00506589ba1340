"""Telling the product service what was sold (only with PRODUCT_SERVICE_URL).

A completed checkout leaves a `StockSale` per product; it is reported right after the
checkout, and again by the sweeper until the service has it. Until then the local stock
subtracts it from the service's figure (carts/services/catalog.py, `product_apply`).
"""

from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from carts.models import StockSale
from integrations.products import product_sale_report


def _report(sales: QuerySet[StockSale]) -> int:
    reported = 0
    for sale in sales.select_related("product"):
        if product_sale_report(
            sku=sale.product.sku,
            quantity=sale.quantity,
            idempotency_key=f"sale:{sale.attempt_id}:{sale.product_id}",
        ):
            StockSale.objects.filter(pk=sale.pk).update(reported_at=timezone.now())
            reported += 1
    return reported


def stock_sales_report(*, cart_id: UUID) -> int:
    """Report the sales of a cart's checkout; returns how many the service took."""
    return _report(StockSale.objects.filter(attempt__cart_id=cart_id, reported_at__isnull=True))


def stock_sales_report_pending(*, now: datetime | None = None, limit: int = 500) -> int:
    """Report sales not yet reported; forget those reported long enough ago that no cached
    answer of the service predates them. Returns how many were reported."""
    now = now or timezone.now()
    pending = StockSale.objects.filter(reported_at__isnull=True).order_by("created_at")[:limit]
    reported = _report(StockSale.objects.filter(pk__in=list(pending.values_list("pk", flat=True))))
    counted = now - timedelta(seconds=settings.PRODUCT_CACHE_SECONDS + 60)
    StockSale.objects.filter(reported_at__lt=counted).delete()
    return reported
