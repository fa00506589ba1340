"""The sweeper (`manage.py release_expired_reservations`, a CronJob every minute): nothing a
dead worker, a timeout or a lost connection left half done stays so.

- a reserved checkout past its expiry is resolved: completed if the payment service says it
  authorised it, else released (its stock back, its cart active and unchanged);
- a released checkout whose payment outcome was unknown is asked about again, and an
  authorisation that arrived late is voided;
- sales the product service has not been told of are told.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from carts.models import AttemptStatus, CheckoutAttempt, PaymentState
from carts.services.checkout import checkout_payment_settle, checkout_resolve
from carts.services.sales import stock_sales_report_pending


@dataclass
class SweepReport:
    resolved: dict[str, int] = field(default_factory=dict)  # "completed" / "released" / ...
    payments_settled: dict[str, int] = field(default_factory=dict)  # PaymentState values
    sales_reported: int = 0


def _count(counts: dict[str, int], what: str) -> None:
    counts[what] = counts.get(what, 0) + 1


def checkout_release_expired(*, now: datetime | None = None, limit: int = 500) -> SweepReport:
    """Resolve up to `limit` expired checkouts, settle unknown payments, report sales.

    Each attempt is resolved in its own short transactions, with the payment service asked
    outside them; safe to run in several processes at once (an attempt is ended only once).
    """
    now = now or timezone.now()
    report = SweepReport()
    expired = CheckoutAttempt.objects.filter(status=AttemptStatus.RESERVED, expires_at__lt=now)
    for attempt_id in list(expired.order_by("expires_at").values_list("pk", flat=True)[:limit]):
        _count(report.resolved, checkout_resolve(attempt_id=attempt_id))
    if settings.PAYMENT_SERVICE_URL:
        unknown = CheckoutAttempt.objects.filter(
            status=AttemptStatus.RELEASED, payment=PaymentState.UNKNOWN
        )
        for attempt_id in list(unknown.order_by("created_at").values_list("pk", flat=True)[:limit]):
            _count(report.payments_settled, checkout_payment_settle(attempt_id=attempt_id).value)
    if settings.PRODUCT_SERVICE_URL:
        report.sales_reported = stock_sales_report_pending(now=now, limit=limit)
    return report
