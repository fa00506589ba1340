"""Prometheus counters from every gunicorn worker add up in one scrape."""

import json
import re
import socket

import pytest
import requests

from tests.health.support import AUTHORIZED, HEALTH_TOKEN
from tests.live import gunicorn

PATH = "/api/v1/health/metrics"
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    match = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_counters_of_all_workers_add_up_in_one_scrape(tmp_path):
    from tests.resilience.test_faults import service_database_url

    with gunicorn(
        workers=3,
        DATABASE_URL=service_database_url(),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        HEALTH_TOKEN=HEALTH_TOKEN,
    ) as service:
        with socket.create_connection(("127.0.0.1", service.port), timeout=10) as pinned:
            # A request whose headers are not finished keeps the sync worker that took it
            # waiting, so the other requests reach other workers (sequential requests can
            # all land on one).
            pinned.sendall(
                f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: {AUTHORIZED['Authorization']}\r\n".encode()
            )
            pids = {
                requests.get(f"{service.url}{PATH}", headers=AUTHORIZED, timeout=10).json()["pid"]
                for _ in range(59)
            }
            pinned.sendall(b"Connection: close\r\n\r\n")
            answer = b"".join(iter(lambda: pinned.recv(65536), b""))
        pids.add(json.loads(answer.partition(b"\r\n\r\n")[2])["pid"])
        text = requests.get(f"{service.url}/metrics", headers=AUTHORIZED, timeout=10).text

    assert len(pids) >= 2, "the requests should have reached several workers"
    route = "api/v1/health/metrics/?$"
    assert sample(text, "http_requests_total", method="GET", route=route, status="200") == 60
    assert sample(text, "http_request_duration_seconds_count", method="GET", route=route) == 60
    assert len(list(tmp_path.glob("counter_*.db"))) >= 2
