"""The checkout sweeper: for a Kubernetes CronJob (every minute), safe to run at any time,
again, and in several processes at once."""

import logging

from django.core.management.base import BaseCommand, CommandError

from carts.services import checkout_release_expired

logger = logging.getLogger("carts.sweeper")


class Command(BaseCommand):
    help = (
        "Resolve checkouts whose reservation expired (CHECKOUT_RESERVATION_SECONDS): complete "
        "those the payment service authorised, release the others' stock; void late "
        "authorisations; tell the product service of unreported sales. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500, help="Most attempts per step.")

    def handle(self, *args, limit: int, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        report = checkout_release_expired(limit=limit)
        summary = (
            f"expired checkouts: {report.resolved or 'none'}; "
            f"unknown payments settled: {report.payments_settled or 'none'}; "
            f"sales reported: {report.sales_reported}"
        )
        if report.resolved or report.payments_settled:
            logger.warning("Checkout sweeper: %s", summary)
        self.stdout.write(summary)
