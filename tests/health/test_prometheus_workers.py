"""Prometheus counters from every gunicorn worker add up in one scrape."""

import re

import pytest
import requests

from tests.live import gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    match = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_counters_of_all_workers_add_up_in_one_scrape(tmp_path):
    from tests.resilience.test_faults import service_database_url

    with gunicorn(
        workers=3, DATABASE_URL=service_database_url(), PROMETHEUS_MULTIPROC_DIR=str(tmp_path)
    ) as service:
        pids = set()
        for _ in range(60):
            body = requests.get(f"{service.url}/api/v1/health/metrics", timeout=10).json()
            pids.add(body["pid"])
        text = requests.get(f"{service.url}/metrics", timeout=10).text

    assert len(pids) >= 2, "the requests should have reached several workers"
    route = "api/v1/health/metrics/?$"
    assert sample(text, "http_requests_total", method="GET", route=route, status="200") == 60
    assert sample(text, "http_request_duration_seconds_count", method="GET", route=route) == 60
    assert len(list(tmp_path.glob("counter_*.db"))) >= 2
