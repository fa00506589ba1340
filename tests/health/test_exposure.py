"""Public probes say only what probes need (issue 17), against gunicorn: without the health
token each health endpoint answers its status and HTTP code, and nothing of the versions,
sizes, counts or services behind it; with the token, everything; `/metrics`, `detailed` and
`metrics` answer 401 without it. Without HEALTH_TOKEN set nobody holds it (fail closed), and
the Kubernetes probes keep working."""

import socket
import subprocess

import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.health.support import AUTHORIZED, HEALTH_TOKEN
from tests.live import JsonService, gunicorn
from tests.resilience.test_faults import service_database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Each public probe and the status it answers with every dependency up.
PROBES = {
    "/api/v1/health": "ok",
    "/api/v1/health/live": "ok",
    "/api/v1/health/ready": "ok",
    "/api/v1/health/database": "up",
    "/api/v1/health/redis": "up",
    "/api/v1/health/external": "ok",
}
INTERNAL = ["/api/v1/health/detailed", "/api/v1/health/metrics", "/metrics"]
WRONG = ["", "Bearer ", "Bearer wrong", f"Basic {HEALTH_TOKEN}", HEALTH_TOKEN]


def healthy(method: str, path: str, body: object | None) -> tuple[int, object]:
    return 200, {"status": "ok"}


def postgres_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def redis_version() -> str:
    info = subprocess.run(
        ["redis-cli", "-u", settings.REDIS_URL, "INFO", "server"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    (line,) = [line for line in info.splitlines() if line.startswith("redis_version:")]
    return line.split(":", 1)[1].strip()


def get(url: str, authorization: str | None = None) -> requests.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return requests.get(url, headers=headers, timeout=15)


def test_public_probes_say_their_status_only_and_the_token_shows_everything():
    revealing = [
        postgres_version(),
        redis_version(),
        "addtocart",
        "postgresql",
        "version",
        "connections",
        "memory",
        "latency",
        "product",
        "payment",
        "services",
        socket.gethostname(),
    ]
    with (
        JsonService(healthy) as products,
        gunicorn(
            DATABASE_URL=service_database_url(),
            HEALTH_TOKEN=HEALTH_TOKEN,
            PRODUCT_SERVICE_URL=products.url,
            HEALTH_CACHE_SECONDS="0",
        ) as service,
    ):
        for path, status in PROBES.items():
            for authorization in [None, *WRONG]:
                answer = get(f"{service.url}{path}", authorization)
                assert (answer.status_code, answer.json()) == (200, {"status": status}), path
                shown = [word for word in revealing if word in answer.text]
                assert not shown, f"{path} tells anyone {shown}"

        details = {
            path: requests.get(f"{service.url}{path}", headers=AUTHORIZED, timeout=15)
            for path in [*PROBES, *INTERNAL]
        }
        assert {path: answer.status_code for path, answer in details.items()} == dict.fromkeys(
            details, 200
        )
        assert details["/api/v1/health"].json()["service"] == "addtocart"
        assert details["/api/v1/health/ready"].json()["database"]["status"] == "up"
        database = details["/api/v1/health/database"].json()
        assert database["version"] == postgres_version()
        assert database["connections"]["in_use"] >= 1
        redis = details["/api/v1/health/redis"].json()
        assert redis["version"] == redis_version()
        assert redis["used_memory"] > 0
        services = details["/api/v1/health/external"].json()["services"]
        assert services["product"]["status"] == "up"
        assert services["payment"]["status"] == "not_configured"
        assert details["/api/v1/health/detailed"].json()["hostname"] == socket.gethostname()
        assert details["/api/v1/health/metrics"].json()["rss_bytes"] > 0
        assert "addtocart_database_up 1.0" in details["/metrics"].text

        for path in INTERNAL:
            for authorization in [None, *WRONG]:
                refused = get(f"{service.url}{path}", authorization)
                assert refused.status_code == 401, (path, authorization)
                assert refused.headers["WWW-Authenticate"] == 'Bearer realm="health"'
                assert refused.headers["Content-Type"] == "application/problem+json"
                assert refused.json()["code"] == "not_authenticated"
                assert "addtocart_" not in refused.text


def test_without_a_health_token_nobody_holds_one_and_the_probes_still_work():
    with gunicorn(DATABASE_URL=service_database_url(), HEALTH_TOKEN="") as service:
        # What the kubelet asks (deploy/k8s/base/deployment.yaml): no token, no cookie.
        for path in ["/api/v1/health/live", "/api/v1/health/ready"]:
            answer = get(f"{service.url}{path}")
            assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
        database = get(f"{service.url}/api/v1/health/database", "Bearer ")
        assert database.json() == {"status": "up"}
        for path in INTERNAL:
            for authorization in [None, "Bearer ", "Bearer", f"Bearer {HEALTH_TOKEN}"]:
                assert get(f"{service.url}{path}", authorization).status_code == 401, path
