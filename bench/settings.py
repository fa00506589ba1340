"""The service's settings plus the benchmark app: its baseline route and query counter."""

from addtocart.settings import *  # noqa: F403
from addtocart.settings import INSTALLED_APPS, MIDDLEWARE

# bench.bare for its write view, which the in-stack write baseline runs too.
INSTALLED_APPS = [*INSTALLED_APPS, "bench", "bench.bare"]
# First, so it counts the queries of every other middleware too.
MIDDLEWARE = ["bench.middleware.QueryCountMiddleware", *MIDDLEWARE]
ROOT_URLCONF = "bench.urls"
