import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder


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
    assert response.json() == {"status": "ok", "database": "up"}


@pytest.mark.django_db(transaction=True)
def test_not_ready_while_a_migration_is_pending(client):
    applied = MigrationRecorder.Migration.objects.get(app="carts", name="0001_initial")
    applied.delete()
    try:
        response = client.get("/api/v1/health/ready")
    finally:
        MigrationRecorder(connection).record_applied("carts", "0001_initial")
    assert response.status_code == 503
    assert response.json()["pending_migrations"] >= 1
