"""The one settings module, configured from environment variables.

Safe by default: DEBUG is off and the service refuses to start without its secrets.
`make run` supplies generated local secrets; docs/configuration.md lists every variable.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from addtocart.env import env_bool, env_int, env_list, env_rate, env_secret, env_str, env_url
from addtocart.observability.logging import logging_config
from addtocart.postgresql import pooling
from integrations.webhooks import webhook_retry_schedule

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("DJANGO_SECRET_KEY", debug=DEBUG)
# Old keys still accepted for signatures during a rotation (guest session ids, admin sessions).
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")
JWT_SIGNING_KEY = env_secret("JWT_SIGNING_KEY", debug=DEBUG)
if JWT_SIGNING_KEY == SECRET_KEY:
    raise ImproperlyConfigured("JWT_SIGNING_KEY must differ from DJANGO_SECRET_KEY.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set: list the host names the service answers for, comma-separated "
        "(e.g. `shop.example.com,addtocart-service`). `make run` sets it for localhost."
    )
PORT = env_int("PORT", 8000, minimum=1)

# HTTPS. TLS usually ends at the ingress or load balancer: with TRUSTED_PROXIES set, its
# X-Forwarded-Proto says whether the request came over HTTPS. Probes and scrapes call the
# pod over plain HTTP, so they are never redirected. `make run` turns these off for localhost.
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "addtocart.apps.AdminConfig",  # django.contrib.admin, its login rate-limited
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "csp",
    "addtocart",
    "accounts",
    "carts",
    "events",
    "health",
    "dashboard",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "addtocart.observability.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "addtocart.csp.CSPMiddleware",
    "addtocart.api.caching.CacheControlMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Content-Security-Policy on every answer (django-csp): our pages load nothing from elsewhere
# and run no inline script or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "addtocart.urls"
WSGI_APPLICATION = "addtocart.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL, or the embedded default, a SQLite file beside manage.py.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue for the lock instead of failing with "database is locked" under
    # several gunicorn workers; row locks (SELECT ... FOR UPDATE) do not exist in SQLite.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a cheaper health check (addtocart/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "addtocart.postgresql"
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 3, minimum=1)
    )
# A connection pooler in front of PostgreSQL, by its pool mode (PgBouncer's `pool_mode`):
# `transaction` turns off the prepared cart statements (carts/db/runner.py) and server-side
# cursors, `session` keeps them; unset, each new connection is checked for a pooler
# (addtocart/postgresql/). docs/deployment.md, "Behind PgBouncer".
DATABASE_POOL_MODE = env_str("DATABASE_POOL_MODE").lower()
DATABASE_PREPARED_STATEMENTS = env_bool(
    "DATABASE_PREPARED_STATEMENTS", DATABASE_POOL_MODE != "transaction"
)
pooling.configure(DATABASES["default"], DATABASE_POOL_MODE, DATABASE_PREPARED_STATEMENTS)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis when REDIS_URL is set, otherwise an in-process cache. Carts never live in
# the cache, so losing it (FLUSHALL, a Redis outage) loses no cart.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "addtocart",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "addtocart.redis"  # rewritten by RedisErrorFilter, see LOGGING
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Other services, each optional (unset: not called), and the circuit breaker around them
# (addtocart/breaker.py). The product service's answers are cached PRODUCT_CACHE_SECONDS.
PRODUCT_SERVICE_URL = env_url("PRODUCT_SERVICE_URL")
AUTH_SERVICE_URL = env_url("AUTH_SERVICE_URL")
PAYMENT_SERVICE_URL = env_url("PAYMENT_SERVICE_URL")
EXTERNAL_TIMEOUT_MS = env_int("EXTERNAL_TIMEOUT_MS", 3000, minimum=1)
PRODUCT_CACHE_SECONDS = env_int("PRODUCT_CACHE_SECONDS", 300, minimum=1)
# How long shared caches (a CDN, a proxy) may keep the catalog as guests read it; 0: not at all.
# Every other API answer is `private, no-store` (addtocart/api/caching.py).
CATALOG_CACHE_SECONDS = env_int("CATALOG_CACHE_SECONDS", 60, minimum=0)
BREAKER_ERROR_PERCENT = env_int("BREAKER_ERROR_PERCENT", 50, minimum=1)
BREAKER_WINDOW_SECONDS = env_int("BREAKER_WINDOW_SECONDS", 60, minimum=1)
BREAKER_MIN_CALLS = env_int("BREAKER_MIN_CALLS", 10, minimum=1)
BREAKER_RESET_SECONDS = env_int("BREAKER_RESET_SECONDS", 30, minimum=1)
# Webhooks (docs/webhooks.md); http and private addresses as targets for development only.
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
# A claimed delivery stays its worker's this long past the timeout; then another may send it.
WEBHOOK_LEASE_MARGIN_SECONDS = env_int("WEBHOOK_LEASE_MARGIN_SECONDS", 30, minimum=1)
WEBHOOK_RETRY_SCHEDULE = webhook_retry_schedule(
    env_str("WEBHOOK_RETRY_SCHEDULE", "5s,30s,2m,10m,1h,6h,24h")
)
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", False)
WEBHOOK_MAX_RESPONSE_BYTES = env_int("WEBHOOK_MAX_RESPONSE_BYTES", 64 * 1024, minimum=1)
# The delivery worker's /healthz and /metrics (HEALTH_TOKEN as a bearer); 0 serves neither.
WEBHOOK_WORKER_PORT = env_int("WEBHOOK_WORKER_PORT", 9102, minimum=0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Request bodies larger than this are refused with 413 (Django checks it when reading the body).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BODY_BYTES", 64 * 1024, minimum=1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "addtocart.api.authentication.CachedJWTStatelessUserAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["addtocart.api.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "addtocart.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "addtocart.api.problems.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "addtocart.api.throttling.AnonRateThrottle",
        "addtocart.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("THROTTLE_ANON", "300/min"),
        "user": env_rate("THROTTLE_USER", "600/min"),
        "login": env_rate("THROTTLE_LOGIN", "10/min"),
        # Failed sign-ins per user name: at one address, and across addresses the name has
        # never signed in from (addtocart/login_limits.py).
        "login_failures": env_rate("THROTTLE_LOGIN_FAILURES", "10/hour"),
        "login_name": env_rate("THROTTLE_LOGIN_NAME", "100/hour"),
        "discount_code": env_rate("THROTTLE_DISCOUNT_CODE", "20/min"),
    },
    "NUM_PROXIES": TRUSTED_PROXIES,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Requests a process takes from a rate-limit counter at once (addtocart/api/throttling.py); 1 counts
# every request in Redis.
THROTTLE_LEASE = env_int("THROTTLE_LEASE", 10, minimum=1)
# An address a user name signed in from stays exempt from the name's cross-address limit.
LOGIN_KNOWN_ADDRESS_DAYS = env_int("LOGIN_KNOWN_ADDRESS_DAYS", 30, minimum=1)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    # Tokens carry a digest of the password hash; a refresh token whose digest no longer
    # matches (the password changed, however) is refused (accounts/api/serializers.py).
    "CHECK_REVOKE_TOKEN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Add-to-Cart Service API",
    "DESCRIPTION": "Carts for guests and signed-in shoppers, the catalog they buy from, and "
    "checkout. Every error is an RFC 9457 problem details document.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CartStatusEnum": "carts.models.CartStatus",
        "DiscountReasonEnum": "carts.api.serializers.REASONS",
        "LineFaultEnum": "carts.api.serializers.LINE_FAULTS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "addtocart.api.schema.add_common_problems",
    ],
}

# Cart rules.
CART_DEFAULT_CURRENCY = env_str("CART_DEFAULT_CURRENCY", "EUR").upper()
CART_MAX_LINES = env_int("CART_MAX_LINES", 100, minimum=1)
CART_MAX_DISCOUNT_CODES = env_int("CART_MAX_DISCOUNT_CODES", 1, minimum=1)
CART_MAX_QUANTITY_PER_LINE = env_int("CART_MAX_QUANTITY_PER_LINE", 99, minimum=1)
SAVED_ITEMS_MAX = env_int("SAVED_ITEMS_MAX", 100, minimum=1)
CART_ABANDONMENT_MINUTES = env_int("CART_ABANDONMENT_MINUTES", 1440, minimum=1)
IDEMPOTENCY_KEY_HOURS = 24
# A request with an Idempotency-Key holds it this long; a retry after that (its worker died)
# takes it over. Longer than any request may run (GUNICORN_TIMEOUT, 30 s by default).
IDEMPOTENCY_LOCK_SECONDS = env_int("IDEMPOTENCY_LOCK_SECONDS", 60, minimum=1)
# Stock held for a checkout waiting on the payment service; the sweeper
# (`manage.py release_expired_reservations`) releases it after this.
CHECKOUT_RESERVATION_SECONDS = env_int("CHECKOUT_RESERVATION_SECONDS", 600, minimum=1)
# Cart events (the outbox, events/) are kept this long, then purged by `manage.py purge_carts`.
EVENT_RETENTION_DAYS = env_int("EVENT_RETENTION_DAYS", 7, minimum=1)

# Health endpoints: `detailed` and `metrics` need this token (or a staff session) when set.
HEALTH_TOKEN = env_str("HEALTH_TOKEN")
HEALTH_CACHE_SECONDS = float(env_str("HEALTH_CACHE_SECONDS", "1.5"))
HEALTH_CHECK_TIMEOUT_SECONDS = float(env_str("HEALTH_CHECK_TIMEOUT_SECONDS", "1"))
SERVICE_VERSION = env_str("SERVICE_VERSION", "1.0.0")
BUSINESS_METRICS_CACHE_SECONDS = env_int("BUSINESS_METRICS_CACHE_SECONDS", 30)

# Logs: JSON lines on stdout (addtocart/observability/logging.py); docs/operations.md, "Logs",
# lists what is logged.
LOG_LEVEL = env_str("LOG_LEVEL", "info").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be debug, info, warning, error or critical: {LOG_LEVEL!r}"
    )
SLOW_QUERY_MS = env_int("SLOW_QUERY_MS", 200)
LOGGING = logging_config(LOG_LEVEL)
