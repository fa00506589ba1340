"""The health endpoints in-process: each answers its status to anyone, its details to the
health token's holders and staff (health/access.py). tests/health/test_exposure.py checks the
same against gunicorn."""

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from tests.conftest import bearer
from tests.health.support import HEALTH_TOKEN
from tests.live import free_port

INTERNAL = ["/api/v1/health/detailed", "/api/v1/health/metrics", "/metrics"]
PUBLIC = [
    "/api/v1/health",
    "/api/v1/health/live",
    "/api/v1/health/ready",
    "/api/v1/health/database",
    "/api/v1/health/redis",
    "/api/v1/health/external",
]


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/health/", "/api/v1/health/live"])
def test_cheap_probes_answer_without_the_database(db, client, path, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_service_and_its_version_are_for_the_token(token_client, settings):
    body = token_client.get("/api/v1/health").json()
    assert body == {"status": "ok", "service": "addtocart", "version": settings.SERVICE_VERSION}


@pytest.mark.django_db
def test_ready_when_the_database_answers_and_migrations_are_applied(client, token_client):
    detailed = token_client.get("/api/v1/health/ready")
    assert detailed.status_code == 200
    assert detailed.json()["status"] == "ok"
    assert detailed.json()["database"]["status"] == "up"
    public = client.get("/api/v1/health/ready")
    assert (public.status_code, public.json()) == (200, {"status": "ok"})


@pytest.mark.django_db(transaction=True)
def test_not_ready_while_a_migration_is_pending(client, token_client):
    latest = MigrationRecorder.Migration.objects.filter(app="carts").latest("id")
    latest.delete()
    try:
        detailed = token_client.get("/api/v1/health/ready")
        public = client.get("/api/v1/health/ready")
    finally:
        MigrationRecorder(connection).record_applied("carts", latest.name)
    assert detailed.status_code == 503
    assert detailed.json()["pending_migrations"] == 1
    assert (public.status_code, public.json()) == (503, {"status": "unavailable"})


@pytest.mark.django_db
def test_database_reports_version_latency_and_connections(token_client):
    body = token_client.get("/api/v1/health/database").json()
    assert body["status"] == "up"
    assert body["vendor"] == "postgresql"
    assert body["version"].split(".")[0].isdigit()
    assert body["latency_ms"] >= 0
    assert 1 <= body["connections"]["in_use"] <= body["connections"]["max"]


@pytest.mark.django_db
def test_redis_reports_memory_policy_and_hit_rate(token_client):
    response = token_client.get("/api/v1/health/redis")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "up"
    assert {"latency_ms", "used_memory", "maxmemory", "maxmemory_policy", "hit_rate"} <= body.keys()
    assert body["used_memory"] > 0


@pytest.mark.django_db
def test_external_lists_services_that_are_not_configured(token_client, settings):
    settings.PRODUCT_SERVICE_URL = settings.AUTH_SERVICE_URL = settings.PAYMENT_SERVICE_URL = ""
    response = token_client.get("/api/v1/health/external")
    assert response.status_code == 200
    services = response.json()["services"]
    assert set(services) == {"product", "auth", "payment"}
    assert {s["status"] for s in services.values()} == {"not_configured"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/health/database", "up"),
        ("/api/v1/health/redis", "up"),
        ("/api/v1/health/external", "ok"),
    ],
)
@pytest.mark.parametrize("token", [HEALTH_TOKEN, ""])
@pytest.mark.parametrize("sent", [None, "Bearer ", "Bearer wrong", f"Basic {HEALTH_TOKEN}"])
def test_without_the_token_a_dependency_probe_answers_its_status_only(
    client, settings, path, status, token, sent
):
    """With HEALTH_TOKEN set or not (then nobody holds it), whatever else is sent."""
    settings.HEALTH_TOKEN = token
    headers = {"HTTP_AUTHORIZATION": sent} if sent else {}
    response = client.get(path, **headers)
    assert (response.status_code, response.json()) == (200, {"status": status})


@pytest.mark.django_db
def test_a_service_that_is_down_is_named_only_to_the_token(client, token_client, settings):
    settings.PRODUCT_SERVICE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    detailed = token_client.get("/api/v1/health/external")
    assert detailed.status_code == 503
    assert detailed.json()["services"]["product"]["status"] == "down"
    public = client.get("/api/v1/health/external")
    assert (public.status_code, public.json()) == (503, {"status": "degraded"})


@pytest.mark.django_db
def test_detailed_gives_everything_and_an_overall_status(token_client):
    body = token_client.get("/api/v1/health/detailed").json()
    assert body["status"] == "ok"
    assert {"version", "uptime_seconds", "hostname", "python", "django"} <= body.keys()
    assert set(body["checks"]) == {"database", "redis", "external"}


@pytest.mark.django_db
def test_metrics_gives_process_figures_and_recent_requests(token_client):
    token_client.get("/api/v1/health")
    body = token_client.get("/api/v1/health/metrics").json()
    assert body["rss_bytes"] > 10_000_000
    assert body["cpu_seconds"]["user"] > 0
    assert body["requests"]["requests_total"] >= 1
    assert set(body["requests"]["latency_ms"]) == {"p50", "p95", "p99"}
    assert "error_rate" in body["requests"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", INTERNAL)
def test_internals_need_the_health_token(client, settings, path):
    settings.HEALTH_TOKEN = HEALTH_TOKEN
    refused = client.get(path)
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/problem+json"
    assert refused["WWW-Authenticate"] == 'Bearer realm="health"'
    assert refused.json()["code"] == "not_authenticated"
    for wrong in ["Bearer wrong", f"Bearer {HEALTH_TOKEN}x", f"Basic {HEALTH_TOKEN}", HEALTH_TOKEN]:
        assert client.get(path, HTTP_AUTHORIZATION=wrong).status_code == 401, wrong
    assert client.get(path, HTTP_AUTHORIZATION=f"Bearer {HEALTH_TOKEN}").status_code == 200
    assert client.get(path, HTTP_AUTHORIZATION=f"bearer  {HEALTH_TOKEN}").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", INTERNAL)
def test_without_a_health_token_internals_are_for_staff_sessions_only(
    client, settings, staff, path
):
    settings.HEALTH_TOKEN = ""
    for sent in [None, "Bearer ", "Bearer", "Bearer None"]:
        headers = {"HTTP_AUTHORIZATION": sent} if sent is not None else {}
        assert client.get(path, **headers).status_code == 401, sent
    client.force_login(staff)
    assert client.get(path).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", INTERNAL)
def test_staff_sessions_always_see_internals(client, settings, staff, user, path):
    settings.HEALTH_TOKEN = HEALTH_TOKEN
    client.force_login(user)
    assert client.get(path).status_code == 401
    client.force_login(staff)
    assert client.get(path).status_code == 200


@pytest.mark.django_db
def test_staff_sessions_see_the_details_of_the_probes(client, settings, staff):
    settings.HEALTH_TOKEN = ""
    client.force_login(staff)
    assert "version" in client.get("/api/v1/health/database").json()


@pytest.mark.django_db
@pytest.mark.parametrize("path", INTERNAL)
def test_a_shopper_token_is_not_the_health_token(client, settings, user, path):
    settings.HEALTH_TOKEN = HEALTH_TOKEN
    assert client.get(path, HTTP_AUTHORIZATION=bearer(user)).status_code == 401


@pytest.mark.django_db
def test_prometheus_exports_http_and_business_metrics(settings, user_api, token_client, product):
    settings.BUSINESS_METRICS_CACHE_SECONDS = 0  # figures of this test's data, not a cached scrape
    user_api.post("/api/v1/cart/items/", {"product_id": product.pk, "quantity": 2}, format="json")
    text = token_client.get("/metrics").content.decode()
    assert 'http_requests_total{method="POST",route="api/v1/cart/items/",status="201"}' in text
    assert "http_request_duration_seconds_bucket{" in text
    assert 'addtocart_carts{status="active"}' in text
    assert "addtocart_checkout_conversion_rate" in text
    assert "addtocart_database_up 1.0" in text
    assert 'addtocart_circuit_breaker_state{service="payment",state="closed"}' in text
