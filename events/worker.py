"""The delivery worker's loop (`manage.py deliver_webhooks`): position new events, claim due
deliveries, send them side by side, record each outcome; wait a moment when there is
nothing to do. SIGTERM and SIGINT let the sends under way finish, then stop the loop."""

import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from addtocart.observability import metrics
from events.delivery import Claimed, deliveries_claim, delivery_record
from events.models import DeliveryStatus
from events.relay import events_position
from events.worker_http import Heartbeat, serve
from integrations.webhooks import webhook_headers, webhook_send

logger = logging.getLogger("events.webhooks")
OUTCOMES = {
    DeliveryStatus.DELIVERED: "delivered",
    DeliveryStatus.PENDING: "retrying",
    DeliveryStatus.FAILED: "failed",
}


def _deliver(claimed: Claimed) -> None:
    headers = webhook_headers(
        secrets=claimed.secrets,
        message_id=claimed.message_id,
        timestamp=int(time.time()),
        body=claimed.body,
    )
    result = webhook_send(
        url=claimed.url,
        body=claimed.body,
        headers=headers,
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
    )
    try:
        status = delivery_record(delivery_id=claimed.delivery_id, result=result)
    finally:
        connection.close_if_unusable_or_obsolete()  # this thread's own, kept for the next
    metrics.WEBHOOK_DELIVERIES.labels(outcome=OUTCOMES[status]).inc()
    metrics.WEBHOOK_DURATION.observe(result.duration_ms / 1000)
    log = logger.info if result.ok else logger.warning
    log(
        "webhook delivered" if result.ok else "webhook delivery failed",
        extra={
            "event_id": claimed.message_id,
            "endpoint_id": claimed.endpoint_id,
            "attempt": claimed.attempt,
            "status": result.status,
            "duration_ms": result.duration_ms,
            "error": result.error,
            "outcome": OUTCOMES[status],
        },
    )


def run_once(pool: ThreadPoolExecutor, *, threads: int) -> int:
    """One round: at most one delivery per thread, so that every claimed one is sent at once
    and within its lease (WEBHOOK_TIMEOUT_SECONDS + WEBHOOK_LEASE_MARGIN_SECONDS). Returns how
    many were sent."""
    events_position()
    claimed = deliveries_claim(limit=threads)
    list(pool.map(_deliver, claimed))
    return len(claimed)


def run(*, threads: int, idle_seconds: float, stop: threading.Event) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    heartbeat = Heartbeat()
    server = (
        serve(port=settings.WEBHOOK_WORKER_PORT, heartbeat=heartbeat)
        if settings.WEBHOOK_WORKER_PORT
        else None
    )
    logger.info("webhook worker started", extra={"threads": threads})
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook") as pool:
        while not stop.is_set():
            heartbeat.beat()
            close_old_connections()
            try:
                sent = run_once(pool, threads=threads)
            except DatabaseError as error:
                logger.error("webhook worker: database error", extra={"error": str(error)[:300]})
                connection.close()
                sent = 0
                stop.wait(idle_seconds * 5)
            if not sent:
                stop.wait(idle_seconds)
    if server is not None:
        server.shutdown()
    logger.info("webhook worker stopped")
