"""Hand-written SQL for the hottest cart statements (README, "Performance"): building and
compiling them with the ORM cost more than PostgreSQL takes to answer them.

Only column names taken from the models go into the SQL text; every value is a parameter,
prepared by its field as the ORM would. Results are converted as the ORM converts them
(SQLite returns text for UUIDs, times and decimals; PostgreSQL needs no conversion).
"""

from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field, Model


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


def rows(sql: str, params: list, fields: tuple[Field, ...]) -> list[tuple]:
    """Run `sql`; its columns are the values of `fields`, in order."""
    with connection.cursor() as cursor:
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
