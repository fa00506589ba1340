"""The benchmark's data: the database and Redis database recreated and migrated, the seeded
catalogue, shoppers and carts (`Data`), and the pool files each scenario's load reads."""

import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

from bench.config import DATABASE_URL, POOLS, PRODUCTS, REDIS_URL, SERVICE_ENV, USERS


def recreate_database() -> None:
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    params = dj_database_url.parse(DATABASE_URL)
    if "bench" not in params["NAME"]:
        sys.exit(f"The benchmark drops its database: {params['NAME']!r} must contain 'bench'.")
    admin = psycopg2.connect(
        dbname="postgres",
        user=params["USER"],
        password=params["PASSWORD"],
        host=params["HOST"],
        port=params["PORT"] or None,
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        name = sql.Identifier(params["NAME"])
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(name))
    admin.close()


def setup_django() -> None:
    """Empty the Redis database and migrate, from this process, with the service's settings."""
    os.environ.update(SERVICE_ENV)
    os.environ["LOG_LEVEL"] = "error"  # the harness's own lines (seeding is slow SQL)
    import django
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def close_db() -> None:
    """No connection of the harness stays open while the service is loaded."""
    from django.db import connections

    connections.close_all()


def callers(pool: list[tuple]) -> list[tuple]:
    """One entry per caller (a pool of cart lines names each caller once per line)."""
    return list(dict.fromkeys((header, value, "") for header, value, _ in pool))


class Data:
    """The seeded data and each scenario's `prepare(seconds)`, which returns its pool file."""

    def __init__(self) -> None:
        from bench import seed

        self.seed = seed
        products = seed.catalog(PRODUCTS)
        self.products, self.first_id = products, products[0].pk
        self.shoppers = seed.shoppers("shopper", USERS, products)
        self.guests = seed.guests(USERS)
        self.carts = {
            n: callers(seed.shoppers(f"cart{n}", USERS, products, n)) for n in (1, 10, 50)
        }
        self.patch = seed.shoppers("patch", 100, products, lines=10)
        self.deletes = 0
        self.rate = 500.0  # requests per second the DELETE pool is sized for, until measured

    def fresh_carts(self, pool: list[tuple], name: str) -> Path:
        self.seed.empty_carts(pool)
        return self.seed.write_pool(POOLS / f"{name}.txt", pool)

    def add_user(self, seconds: float) -> Path:
        return self.fresh_carts(self.shoppers, "shoppers")

    def add_guest(self, seconds: float) -> Path:
        return self.fresh_carts(self.guests, "guests")

    def cart(self, lines: int) -> Callable[[float], Path]:
        return lambda seconds: self.seed.write_pool(POOLS / f"cart{lines}.txt", self.carts[lines])

    def update(self, seconds: float) -> Path:
        return self.seed.write_pool(POOLS / "patch.txt", self.patch, shuffle=True)

    def delete(self, seconds: float) -> Path:
        """Three times the lines the PATCH scenario's rate would delete, in 10-line carts."""
        lines = max(1000, math.ceil(self.rate * seconds * 3))
        self.deletes += 1
        pool = self.seed.shoppers(
            f"delete{self.deletes}", math.ceil(lines / 10), self.products, lines=10
        )
        return self.seed.write_pool(POOLS / "delete.txt", pool, shuffle=True)
