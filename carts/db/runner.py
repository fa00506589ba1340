"""The runner of the hand-written cart statements (carts/db/statements.py): building and
compiling them with the ORM cost more than PostgreSQL takes to answer them.

Only column names taken from the models go into the SQL text; every value is a parameter,
prepared by its field as the ORM would. Results are converted as the ORM converts them
(SQLite returns text for UUIDs, times and decimals; PostgreSQL needs no conversion).

On PostgreSQL each statement is prepared once per connection (PREPARE, then EXECUTE):
planning the cart read took 0.33 ms where running it took 0.1 ms, and the plan is the same on
every request. psycopg2 has no prepared statements of its own. A statement is named after a
hash of its SQL, so one found under its name was prepared from the same SQL.

Behind a pooler in transaction mode a session's statements would be another client's, and
the next transaction may run on a session that has none: statements are not prepared on a
connection whose transactions may change sessions (`sessions_pooled()`,
addtocart/postgresql/base.py: declared by DATABASE_POOL_MODE, or found by its check), and
DATABASE_PREPARED_STATEMENTS turns them off everywhere.
"""

import hashlib
import re
import weakref
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, OperationalError, connection, connections
from django.db.models import Field, Model

from addtocart.observability.logging import PREPARED_STATEMENTS

# Per psycopg2 connection, the names of the statements prepared on it; None once its
# statements must be deallocated (a schema change invalidated them, or they are gone).
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# Around a PREPARE inside a transaction, so that "already exists" does not abort it.
_SAVEPOINT = "addtocart_prepare"


def _sqlstate(error: Exception) -> str | None:
    return getattr(error, "pgcode", None) or getattr(error, "sqlstate", None)


def _stale_plan(error: DatabaseError) -> bool:
    """A prepared statement PostgreSQL can no longer run: "cached plan must not change result
    type" (after a migration changed a returned column's type) or "prepared statement does not
    exist" (a pooler or DISCARD ALL dropped it)."""
    cause = error.__cause__
    code = _sqlstate(cause)
    return code == "26000" or (code == "0A000" and "cached plan" in str(cause))


def columns(fields: tuple[Field, ...], alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{field.column}" for field in fields)


def param(field: Field, value: Any) -> Any:
    return field.get_db_prep_value(value, connection, prepared=False)


@cache
def _conversions(vendor: str, fields: tuple[Field, ...]) -> tuple:
    """Per column, the ORM's converters for this database (worked out once per statement)."""
    conversions = []
    for index, field in enumerate(fields):
        column = field.get_col(field.model._meta.db_table)
        converters = [
            *connection.ops.get_db_converters(column),
            *field.get_db_converters(connection),
        ]
        if converters:
            conversions.append((index, converters, column))
    return tuple(conversions)


@cache
def statement_name(sql: str) -> str:
    return "addtocart_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()


def _prepare(sql: str) -> str:
    """Prepare `sql` on this connection unless it is already; return its name."""
    raw = connection.connection
    names = _prepared.get(raw, set())
    name = statement_name(sql)
    if names is not None and name in names:
        return name
    numbered = iter(range(1, sql.count("%s") + 1))
    text = re.sub("%s", lambda _: f"${next(numbered)}", sql)
    # On the driver's own cursor: a statement run once per connection, not per request.
    with connection.wrap_database_errors, raw.cursor() as cursor:
        if names is None:
            cursor.execute("DEALLOCATE ALL")
            names = set()
        _prepare_on(cursor, f"PREPARE {name} AS {text}", not connection.get_autocommit())
    names.add(name)
    _prepared[raw] = names
    PREPARED_STATEMENTS[name] = sql  # for the slow-query log
    return name


def _prepare_on(cursor, statement: str, in_transaction: bool) -> None:
    """Run `statement`, a PREPARE. A statement already there under its name (42P05) was
    prepared from the same SQL, by this worker before it lost count or by another client of a
    pooler, and serves as it is. In a transaction, a savepoint sent with the PREPARE (no
    further round trip) keeps that error from aborting it."""
    if in_transaction:
        statement = f"SAVEPOINT {_SAVEPOINT}; {statement}; RELEASE SAVEPOINT {_SAVEPOINT}"
    try:
        cursor.execute(statement)
    except connection.Database.Error as error:
        if _sqlstate(error) != "42P05":
            raise
        if in_transaction:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}; RELEASE SAVEPOINT {_SAVEPOINT}")


def _execute_prepared(cursor, sql: str, params: list) -> None:
    """EXECUTE the statement prepared from `sql`.

    When PostgreSQL can no longer run a prepared plan, the connection's statements are
    prepared anew: at once outside a transaction; inside one, which the error has aborted,
    the request fails as the database's temporary unavailability (503, retry).
    """
    arguments = f"({', '.join(['%s'] * len(params))})" if params else ""
    try:
        cursor.execute(f"EXECUTE {_prepare(sql)}{arguments}", params)
    except DatabaseError as error:
        if not _stale_plan(error):
            raise
        _prepared[connection.connection] = None
        if connection.in_atomic_block:
            raise OperationalError(
                f"prepared statements invalidated ({error}); prepared anew on the next request"
            ) from error
        cursor.execute(f"EXECUTE {_prepare(sql)}{arguments}", params)


def _prepares() -> bool:
    """Whether statements are prepared: on PostgreSQL, unless DATABASE_PREPARED_STATEMENTS is
    off or the connection's transactions may run on other server sessions than its own."""
    if not settings.DATABASE_PREPARED_STATEMENTS:
        return False
    db = connections[DEFAULT_DB_ALIAS]  # one look-up of the thread's connection, not three
    if db.vendor != "postgresql":
        return False
    pooled = getattr(db, "sessions_pooled", None)
    return pooled is None or not pooled()


def rows(sql: str, params: list, fields: tuple[Field, ...]) -> list[tuple]:
    """Run `sql`; its columns are the values of `fields`, in order."""
    with connection.cursor() as cursor:
        if _prepares():
            _execute_prepared(cursor, sql, params)
        else:
            cursor.execute(sql, params)
        found = cursor.fetchall()
    conversions = _conversions(connection.vendor, tuple(fields))
    if not conversions:
        return found
    converted = []
    for row in found:
        row = list(row)
        for index, converters, column in conversions:
            for convert in converters:
                row[index] = convert(row[index], column, connection)
        converted.append(tuple(row))
    return converted


def instance(model: type[Model], fields: tuple[Field, ...], values) -> Model:
    return model.from_db(connection.alias, [field.attname for field in fields], values)
