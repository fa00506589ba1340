import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from tests.conftest import bearer

INTERNAL = ["/api/v1/health/detailed", "/api/v1/health/metrics"]


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/health/", "/api/v1/health/live"])
def test_cheap_probes_answer_without_the_database(db, client, path, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(path)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_ready_when_the_database_answers_and_migrations_are_applied(client):
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"]["status"] == "up"


@pytest.mark.django_db(transaction=True)
def test_not_ready_while_a_migration_is_pending(client):
    latest = MigrationRecorder.Migration.objects.filter(app="carts").latest("id")
    latest.delete()
    try:
        response = client.get("/api/v1/health/ready")
    finally:
        MigrationRecorder(connection).record_applied("carts", latest.name)
    assert response.status_code == 503
    assert response.json()["pending_migrations"] == 1


@pytest.mark.django_db
def test_database_reports_version_latency_and_connections(client):
    body = client.get("/api/v1/health/database").json()
    assert body["status"] == "up"
    assert body["vendor"] == "postgresql"
    assert body["version"].split(".")[0].isdigit()
    assert body["latency_ms"] >= 0
    assert 1 <= body["connections"]["in_use"] <= body["connections"]["max"]


@pytest.mark.django_db
def test_redis_reports_memory_policy_and_hit_rate(client):
    response = client.get("/api/v1/health/redis")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "up"
    assert {"latency_ms", "used_memory", "maxmemory", "maxmemory_policy", "hit_rate"} <= body.keys()
    assert body["used_memory"] > 0


@pytest.mark.django_db
def test_external_lists_services_that_are_not_configured(client, settings):
    settings.PRODUCT_SERVICE_URL = settings.AUTH_SERVICE_URL = settings.PAYMENT_SERVICE_URL = ""
    response = client.get("/api/v1/health/external")
    assert response.status_code == 200
    services = response.json()["services"]
    assert set(services) == {"product", "auth", "payment"}
    assert {s["status"] for s in services.values()} == {"not_configured"}


@pytest.mark.django_db
def test_detailed_gives_everything_and_an_overall_status(client):
    body = client.get("/api/v1/health/detailed").json()
    assert body["status"] == "ok"
    assert {"version", "uptime_seconds", "hostname", "python", "django"} <= body.keys()
    assert set(body["checks"]) == {"database", "redis", "external"}


@pytest.mark.django_db
def test_metrics_gives_process_figures_and_recent_requests(client):
    client.get("/api/v1/health")
    body = client.get("/api/v1/health/metrics").json()
    assert body["rss_bytes"] > 10_000_000
    assert body["cpu_seconds"]["user"] > 0
    assert body["requests"]["requests_total"] >= 1
    assert set(body["requests"]["latency_ms"]) == {"p50", "p95", "p99"}
    assert "error_rate" in body["requests"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", INTERNAL)
def test_internals_need_the_health_token_when_one_is_set(client, settings, path):
    settings.HEALTH_TOKEN = "s3cret-health-token"
    assert client.get(path).status_code == 401
    assert client.get(path, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get(path, HTTP_AUTHORIZATION="Bearer s3cret-health-token").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", INTERNAL)
def test_staff_sessions_always_see_internals(client, settings, staff, user, path):
    settings.HEALTH_TOKEN = "s3cret-health-token"
    client.force_login(user)
    assert client.get(path).status_code == 401
    client.force_login(staff)
    assert client.get(path).status_code == 200


@pytest.mark.django_db
def test_a_shopper_token_is_not_the_health_token(client, settings, user):
    settings.HEALTH_TOKEN = "s3cret-health-token"
    assert client.get(INTERNAL[0], HTTP_AUTHORIZATION=bearer(user)).status_code == 401


@pytest.mark.django_db
def test_prometheus_exports_http_and_business_metrics(settings, user_api, client, product):
    settings.BUSINESS_METRICS_CACHE_SECONDS = 0  # figures of this test's data, not a cached scrape
    user_api.post("/api/v1/cart/items/", {"product_id": product.pk, "quantity": 2}, format="json")
    text = client.get("/metrics").content.decode()
    assert 'http_requests_total{method="POST",route="api/v1/cart/items/",status="201"}' in text
    assert "http_request_duration_seconds_bucket{" in text
    assert 'addtocart_carts{status="active"}' in text
    assert "addtocart_checkout_conversion_rate" in text
    assert "addtocart_database_up 1.0" in text
    assert 'addtocart_circuit_breaker_state{service="payment",state="closed"}' in text
