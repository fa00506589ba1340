"""What the service leaves on a PostgreSQL session, and how it knows a pooler may share them:
the check of a new connection, DATABASE_POOL_MODE, a statement found already prepared, and
the settings a transaction pooler rules out. tests/deploy/test_pgbouncer.py runs the service
itself behind PgBouncer."""

import os
import subprocess
import sys

import pytest
from django.db import connection, connections, transaction

from addtocart.postgresql.base import DatabaseWrapper
from carts.db import runner
from carts.domain import CartOwner
from carts.selectors import cart_get_active_with_lines
from carts.services import cart_item_add
from tests.live import ROOT
from tests.pgbouncer import pgbouncer

pytestmark = pytest.mark.skipif(
    not isinstance(connections["default"], DatabaseWrapper),
    reason="the service's PostgreSQL backend",
)


def through(bouncer) -> DatabaseWrapper:
    """A connection of the service's backend to the test database, through `bouncer`."""
    return DatabaseWrapper(
        {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": bouncer.port}, "bouncer"
    )


def cursor_name(wrapper: DatabaseWrapper) -> str | None:
    with wrapper.chunked_cursor() as cursor:
        return cursor.cursor.name


def test_a_direct_connection_keeps_its_session(db):
    assert connection.sessions_pooled() is False
    assert cursor_name(connection) is not None  # Django's server-side cursor


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_a_connection_through_pgbouncer_is_found_pooled(pool_mode, caplog):
    """Its mode cannot be seen from the connection: either is taken as transaction mode."""
    with pgbouncer(connection.settings_dict, pool_mode=pool_mode) as bouncer:
        wrapper = through(bouncer)
        try:
            assert wrapper.sessions_pooled() is True
            assert cursor_name(wrapper) is None  # rows read at once instead
        finally:
            wrapper.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_declared_pool_mode_is_believed_without_a_check(settings):
    with pgbouncer(connection.settings_dict, pool_mode="session") as bouncer:
        settings.DATABASE_POOL_MODE = "session"
        wrapper = through(bouncer)
        try:
            assert wrapper.sessions_pooled() is False
            assert wrapper.connection is None  # nothing asked of the server
        finally:
            wrapper.close()
    settings.DATABASE_POOL_MODE = "transaction"
    assert connection.sessions_pooled() is True


def test_a_statement_already_on_the_session_serves_inside_a_transaction(user, product):
    """Another client of a pooler prepared it on this session (here: the worker forgot that
    it did): PREPARE finds it there, and the transaction goes on."""
    owner = CartOwner(user_id=user.pk)
    cart_item_add(owner=owner, product_id=product.pk, quantity=2)
    cart_get_active_with_lines(owner=owner)  # prepared on this session
    runner._prepared.pop(connection.connection)
    with transaction.atomic():
        assert cart_get_active_with_lines(owner=owner).cart.pk
        cart_item_add(owner=owner, product_id=product.pk, quantity=1)  # not aborted
    assert cart_get_active_with_lines(owner=owner).lines.quantity == 3


def settings_of(**env: str) -> subprocess.CompletedProcess:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASE_PREPARED_STATEMENTS, "
        "s.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS', False))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "addtocart.settings",
            "DEBUG": "true",
            "DATABASE_URL": "postgres://app@pgbouncer:6432/addtocart",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "printed"),
    [
        ({}, "True False"),
        ({"DATABASE_POOL_MODE": "session"}, "True False"),
        ({"DATABASE_POOL_MODE": "Transaction"}, "False True"),
        ({"DATABASE_POOL_MODE": "transaction", "DATABASE_PREPARED_STATEMENTS": ""}, "False True"),
    ],
)
def test_transaction_pooling_turns_off_what_needs_a_session(env, printed):
    result = settings_of(**env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == printed


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"DATABASE_POOL_MODE": "statement"}, "DATABASE_POOL_MODE must be session or transaction"),
        (
            {"DATABASE_POOL_MODE": "transaction", "DATABASE_PREPARED_STATEMENTS": "true"},
            "DATABASE_PREPARED_STATEMENTS cannot be true",
        ),
        (
            {
                "DATABASE_POOL_MODE": "transaction",
                "DATABASE_URL": "postgres://app@pgbouncer:6432/addtocart?options=-cwork_mem%3D8MB",
            },
            "DATABASE_URL sets options",
        ),
    ],
)
def test_settings_a_transaction_pooler_cannot_keep_are_refused(env, error):
    result = settings_of(**env)
    assert result.returncode != 0
    assert error in result.stderr
