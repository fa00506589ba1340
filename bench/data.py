"""The benchmark's data: the database and Redis database recreated and migrated, the seeded
catalogue, shoppers and carts (`Data`), and the pool files each scenario's load reads."""

import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

from bench.config import (
    ADD_PRODUCTS,
    CHECKOUT_LINES,
    DATABASE_URL,
    POOLS,
    PRODUCTS,
    REDIS_URL,
    SERVICE_ENV,
    USERS,
)


def recreate_database(url: str = DATABASE_URL) -> None:
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    params = dj_database_url.parse(url)
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


def analyze() -> None:
    """Give PostgreSQL the statistics of the data just seeded, as autovacuum keeps a live
    database's. Without them it plans for tables it has never seen: `GET cart/` probed the
    lines once per product (0.53 ms for a 50-line cart) rather than reading the cart's lines
    (0.19 ms), and seeding more carts (DELETE's, checkout's) changed the plan mid-run."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


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
        # The same, their carts holding a discount code.
        self.code_shoppers = seed.shoppers("codeshopper", USERS, products)
        self.code_cart = callers(seed.shoppers("codecart10", USERS, products, 10))
        for name in ("codeshopper", "codecart10"):
            seed.code_on_carts(name)
        self.pools = 0  # pools seeded afresh for a run (DELETE, checkout)
        # Requests per second of the scenarios whose pools are sized on a rate (PATCH's for
        # DELETE's), guessed high until measured (bench/run.py sets them).
        self.rates = {
            "patch": 500.0,
            "checkout": 400.0,
            "checkout_code": 400.0,
            "checkout_paid": 100.0,
        }
        analyze()

    def fresh_carts(self, pool: list[tuple], name: str) -> Path:
        self.seed.empty_carts(pool)
        return self.seed.write_pool(POOLS / f"{name}.txt", pool)

    def add_user(self, seconds: float) -> Path:
        return self.fresh_carts(self.shoppers, "shoppers")

    def add_guest(self, seconds: float) -> Path:
        return self.fresh_carts(self.guests, "guests")

    def add_user_code(self, seconds: float) -> Path:
        return self.fresh_carts(self.code_shoppers, "code_shoppers")

    def cart_with_code(self, seconds: float) -> Path:
        return self.seed.write_pool(POOLS / "code_cart10.txt", self.code_cart)

    def cart(self, lines: int) -> Callable[[float], Path]:
        return lambda seconds: self.seed.write_pool(POOLS / f"cart{lines}.txt", self.carts[lines])

    def update(self, seconds: float) -> Path:
        return self.seed.write_pool(POOLS / "patch.txt", self.patch, shuffle=True)

    def delete(self, seconds: float) -> Path:
        """Three times the lines the PATCH scenario's rate would delete, in 10-line carts."""
        lines = max(1000, math.ceil(self.rates["patch"] * seconds * 3))
        self.pools += 1
        pool = self.seed.shoppers(
            f"delete{self.pools}", math.ceil(lines / 10), self.products, lines=10
        )
        analyze()
        return self.seed.write_pool(POOLS / "delete.txt", pool, shuffle=True)

    def checkout(self, name: str) -> Callable[[float], Path]:
        """Fresh shoppers with filled carts (holding a discount code for a name ending in
        `_code`), each checked out once: three times as many as the scenario's last rate would
        check out."""

        def prepare(seconds: float) -> Path:
            count = max(500, math.ceil(self.rates[name] * seconds * 3))
            self.pools += 1
            pool = self.seed.checkout_carts(
                f"{name}{self.pools}", count, self.products[:ADD_PRODUCTS], CHECKOUT_LINES
            )
            if name.endswith("_code"):
                self.seed.code_on_carts(f"{name}{self.pools}")
            analyze()
            return self.seed.write_pool(POOLS / f"{name}.txt", pool)

        return prepare
