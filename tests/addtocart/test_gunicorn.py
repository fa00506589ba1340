"""gunicorn as production runs it: workers forked from a master that has loaded the app."""

import re
from pathlib import Path

import pytest
import requests

from tests.health.support import AUTHORIZED, HEALTH_TOKEN
from tests.live import gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_master_loads_the_app_and_its_views_before_forking():
    from tests.resilience.test_faults import service_database_url

    with gunicorn(workers=1, DATABASE_URL=service_database_url()) as service:
        loaded = Path(f"/proc/{service.process.pid}/maps").read_text()
    # orjson is first imported by the renderers the views use, psycopg2 by the database
    # backend; neither is imported by gunicorn itself.
    assert "orjson" in loaded
    assert "_psycopg" in loaded


def test_recycled_workers_keep_serving_and_their_counts_add_up(tmp_path):
    from tests.resilience.test_faults import service_database_url

    with gunicorn(
        workers=2,
        DATABASE_URL=service_database_url(),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        GUNICORN_MAX_REQUESTS="10",
        GUNICORN_MAX_REQUESTS_JITTER="0",
        HEALTH_TOKEN=HEALTH_TOKEN,
    ) as service:
        pids = set()
        for _ in range(60):
            answer = requests.get(
                f"{service.url}/api/v1/health/metrics", headers=AUTHORIZED, timeout=10
            )
            assert answer.status_code == 200
            pids.add(answer.json()["pid"])
        text = requests.get(f"{service.url}/metrics", headers=AUTHORIZED, timeout=10).text

    assert len(pids) >= 4, "workers should have been recycled every 10 requests"
    route = re.escape("api/v1/health/metrics/?$")
    [count] = re.findall(
        rf'^http_requests_total\{{method="GET",route="{route}",status="200"\}} (\S+)$',
        text,
        re.MULTILINE,
    )
    assert float(count) == 60
