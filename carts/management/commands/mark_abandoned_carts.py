"""Mark idle carts abandoned: for a Kubernetes CronJob, safe to run at any time and again."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from carts.services import cart_abandon_idle


class Command(BaseCommand):
    help = (
        "Mark active carts with items whose last activity is older than "
        "CART_ABANDONMENT_MINUTES as abandoned. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        marked = cart_abandon_idle(batch_size=batch_size)
        self.stdout.write(
            f"{marked} cart(s) marked abandoned "
            f"(idle for more than {settings.CART_ABANDONMENT_MINUTES} minutes)."
        )
