"""The PostgreSQL backend's health check: no round trip for a sound connection, the real
check (and a new connection) for one the server has closed."""

from contextlib import closing

import psycopg2
import pytest
from django.db import close_old_connections, connection, connections

from addtocart.postgresql.base import DatabaseWrapper
from tests.live import wait_for

pytestmark = pytest.mark.skipif(
    not isinstance(connections["default"], DatabaseWrapper),
    reason="the service's PostgreSQL backend",
)


def other_connection():
    settings = connection.settings_dict
    return psycopg2.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or None,
    )


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def last_query_of(pid: int) -> str | None:
    with closing(other_connection()) as other, other.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        found = cursor.fetchone()
        return found[0] if found else None


def test_a_sound_connection_is_usable_without_a_query(db):
    pid = backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last query before the check'")
    assert connection.is_usable()
    assert last_query_of(pid) == "SELECT 'the last query before the check'"


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_closed_is_unusable_and_replaced():
    pid = backend_pid()
    with closing(other_connection()) as other:
        other.autocommit = True
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    wait_for(lambda: last_query_of(pid) is None, what="the end of the backend")
    assert not connection.is_usable()
    close_old_connections()  # as at the start of every request
    assert backend_pid() != pid  # the health check closed it; the query ran on a new one
