"""The hand-written cart statements, prepared once per PostgreSQL connection."""

import json

import pytest
from django.db import OperationalError, connection, transaction

from addtocart.observability.logging import PREPARED_STATEMENTS
from carts.db import runner as sql
from carts.domain import CartOwner
from carts.selectors import cart_get_active_with_lines
from carts.services import cart_item_add

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
)


def prepared_statements() -> list[tuple[str, int, int]]:
    """This connection's statements: name, generic plans run, custom plans run."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE name LIKE 'addtocart_%%' ORDER BY name"
        )
        return cursor.fetchall()


def deallocate_all() -> None:
    """What a pooler resetting the session does behind the service's back."""
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")


@pytest.fixture
def cart_of_two(user, product):
    owner = CartOwner(user_id=user.pk)
    cart_item_add(owner=owner, product_id=product.pk, quantity=2)
    return owner


def read(owner):
    cart = cart_get_active_with_lines(owner=owner)
    items = json.loads(cart.lines.items_json)
    return [(item["product"]["sku"], item["quantity"]) for item in items]


def generic_plan(name: str, *params) -> str:
    with connection.cursor() as cursor:
        # Earlier tests' many carts, deleted row by row, leave the indexes bloated and the
        # statistics stale: in a full run the planner then preferred the owner's plain index.
        # Rebuilt and analysed, the tables are as a fresh database's.
        cursor.execute("REINDEX TABLE carts_cart")
        cursor.execute("ANALYZE carts_cart")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test's tables are tiny
        cursor.execute(f"EXPLAIN EXECUTE {name}({', '.join(['%s'] * len(params))})", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_a_statement_is_prepared_once_per_connection(cart_of_two, product):
    deallocate_all()
    sql._prepared.pop(connection.connection, None)
    for _ in range(3):
        assert read(cart_of_two) == [(product.sku, 2)]
    [(name, _, executions)] = prepared_statements()
    assert executions == 3
    assert "FROM carts_cart h" in PREPARED_STATEMENTS[name]


def test_the_plan_kept_for_every_owner_uses_the_index_of_active_carts(cart_of_two, user):
    """With the status as a parameter, the one plan PostgreSQL keeps for all executions could
    not use the partial index (it would plan each execution anew instead)."""
    read(cart_of_two)
    [name] = [
        name for name, *_ in prepared_statements() if "carts_cart h" in PREPARED_STATEMENTS[name]
    ]
    assert "one_active_cart_per_user" in generic_plan(name, user.pk)


def test_without_prepared_statements_nothing_is_prepared(cart_of_two, product, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    deallocate_all()
    sql._prepared.pop(connection.connection, None)
    assert read(cart_of_two) == [(product.sku, 2)]
    assert prepared_statements() == []


def test_statements_lost_inside_a_transaction_fail_it_as_retryable(cart_of_two, product):
    assert read(cart_of_two) == [(product.sku, 2)]
    deallocate_all()
    with pytest.raises(OperationalError, match="prepared anew"), transaction.atomic():
        read(cart_of_two)  # as in a service: its transaction is rolled back
    assert read(cart_of_two) == [(product.sku, 2)]


@pytest.mark.django_db(transaction=True)
def test_statements_lost_outside_a_transaction_are_prepared_again_at_once(cart_of_two, product):
    assert read(cart_of_two) == [(product.sku, 2)]
    deallocate_all()
    assert read(cart_of_two) == [(product.sku, 2)]
    assert len(prepared_statements()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_column_type_changed_by_a_migration_gets_a_new_plan(cart_of_two, product):
    assert read(cart_of_two) == [(product.sku, 2)]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE carts_product ALTER COLUMN name TYPE varchar(300)")
    try:
        assert read(cart_of_two) == [(product.sku, 2)]  # "cached plan must not change result type"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE carts_product ALTER COLUMN name TYPE varchar(200)")
