"""`manage.py deliver_webhooks`: the long-running delivery worker (events/worker.py)."""

import threading

from django.core.management.base import BaseCommand

from events import worker


class Command(BaseCommand):
    help = (
        "Deliver cart events to the webhook endpoints until stopped (SIGTERM): several may "
        "run at once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--threads", type=int, default=8, help="Sends at once; each round claims as many."
        )
        parser.add_argument("--idle-seconds", type=float, default=1.0)

    def handle(self, *args, threads: int, idle_seconds: float, **options):
        worker.run(
            threads=max(1, threads),
            idle_seconds=max(0.05, idle_seconds),
            stop=threading.Event(),
        )
