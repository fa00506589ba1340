"""The benchmark's settings (`make bench`, bench/run.py): its paths, the BENCH_* variables
read from the environment, the scenarios each part takes, and the environments the service
and the bare baselines run under."""

import os
import secrets

from bench import harness

ROOT = harness.ROOT
RESULTS = ROOT / "bench-results"
POOLS = RESULTS / "pools"
PROFILES = RESULTS / "profile"  # py-spy's samples, one file per scenario (flamegraph.pl reads them)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


SECONDS = env_int("BENCH_SECONDS", 5)  # per round
ROUNDS = env_int("BENCH_ROUNDS", 3)
WARMUP = env_int("BENCH_WARMUP", 2)
CONNECTIONS = env_int("BENCH_CONNECTIONS", 16)
THREADS = 2
USERS = env_int("BENCH_USERS", 200)
PRODUCTS = 500
ADD_PRODUCTS = 50  # adds pick one of the first 50 products: carts stay under 100 lines
CHECKOUT_LINES = 3  # each checked-out cart holds 3 of those 50 products, drawn at random
PAYMENT_STUB_SECONDS = 0.05  # the payment stub's wait in `checkout_paid` (bench/payment_stub.py)
# The leak check's first reading comes once the worker's window of recent requests (10 000,
# addtocart/observability/metrics.py) is full: its growth up to there is by design.
LEAK_FIRST = 10_000
LEAK_TOTAL = LEAK_FIRST + env_int("BENCH_LEAK_REQUESTS", 20_000)
# The budgets' ratios: PAIRS groups of PAIR_SECONDS runs of a scenario and its two baselines.
PAIRS = env_int("BENCH_PAIRS", 20)
PAIR_SECONDS = 1
JUDGED = ("add_user", "get_cart_1", "get_cart_10", "get_cart_50")
# The baselines of each kind of request: (bare, in-stack).
BASELINES = {"read": ("bare_json", "health"), "write": ("bare_write", "write")}
PROFILED = (
    "add_user",
    "get_cart_1",
    "get_cart_10",
    "get_cart_50",
    "write",
    "health",
    "bare_write",
    "bare_json",
)
PROFILE_SECONDS = env_int("BENCH_PROFILE_SECONDS", 8)
PROFILE_RATE = env_int("BENCH_PROFILE_RATE", 500)  # py-spy's samples per second
RECYCLING = {  # label: GUNICORN_MAX_REQUESTS, GUNICORN_MAX_REQUESTS_JITTER
    "5000 (+500)": ("5000", "500"),
    "off": ("0", "0"),
    "50000 (+5000)": ("50000", "5000"),
}
RECYCLING_ROUNDS = env_int("BENCH_RECYCLING_ROUNDS", 8)
RECYCLED = ("get_cart_10", "add_user")
STRICT = os.environ.get("BENCH_STRICT") == "1"
# A comma-separated subset of scenario names, for quick iterations (no leak check, no budgets
# and no profile then, unless BENCH_PROFILE=1). Alternation takes a chosen scenario's
# baselines along.
ONLY = [name for name in os.environ.get("BENCH_SCENARIOS", "").split(",") if name]
PROFILE = os.environ.get("BENCH_PROFILE", "0" if ONLY else "1") == "1"
DATABASE_URL = (
    os.environ.get("BENCH_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/addtocart_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/8"
LIMIT = "100000000/min"

# The service's environment: production's settings (behind one proxy, the ingress, whose
# X-Forwarded-For and X-Forwarded-Proto the load scripts send), but for rate limits that a
# benchmark never reaches (the throttles still run) and a per-line limit rotating adds never
# reach.
SERVICE_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "TRUSTED_PROXIES": "1",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "CONN_MAX_AGE": "60",
    "DEBUG": "false",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
    "JWT_ACCESS_MINUTES": "720",
    "LOG_LEVEL": "info",
    "THROTTLE_ANON": LIMIT,
    "THROTTLE_USER": LIMIT,
    "THROTTLE_LOGIN": LIMIT,
    "CART_MAX_QUANTITY_PER_LINE": "100000",
    "PRODUCT_SERVICE_URL": "",
    "PAYMENT_SERVICE_URL": "",
    "AUTH_SERVICE_URL": "",
}
# The bare baselines' (bench/bare/settings.py): the same database and kept connections.
BARE_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.bare.settings",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DATABASE_URL": DATABASE_URL,
    "CONN_MAX_AGE": "60",
    "DJANGO_SECRET_KEY": SERVICE_ENV["DJANGO_SECRET_KEY"],
}
