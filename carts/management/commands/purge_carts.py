"""Delete old merged, abandoned and empty carts, and events past EVENT_RETENTION_DAYS: for a
Kubernetes CronJob, idempotent."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from carts.services import cart_purge_old
from events.maintenance import event_purge_old


class Command(BaseCommand):
    help = (
        "Delete merged, abandoned and empty carts whose last activity is older than "
        "--older-than DAYS, in batches. Checked-out carts are never deleted. Events older "
        "than EVENT_RETENTION_DAYS go too."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS")
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, older_than: int, batch_size: int, **options):
        if older_than < 1:
            raise CommandError("--older-than must be at least 1 day.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        deleted = cart_purge_old(older_than=timedelta(days=older_than), batch_size=batch_size)
        self.stdout.write(f"{deleted} cart(s) older than {older_than} days deleted.")
        events = event_purge_old()
        self.stdout.write(
            f"{events} event(s) older than {settings.EVENT_RETENTION_DAYS} days deleted."
        )
