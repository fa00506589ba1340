"""Reading settings from environment variables, each with a clear error when malformed.

Used by the settings module and by the benchmark; it imports nothing of the service.
"""

import os
import re

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = env_str(name)
    if not value:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    value = env_str(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_url(name: str) -> str:
    """An http(s) base URL without its trailing slash, or "" when unset."""
    value = env_str(name).rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"{name} must be an http:// or https:// URL.")
    return value


def env_secret(name: str, *, debug: bool) -> str:
    """A secret that must be set, except with DEBUG on, where a fixed insecure value stands in."""
    value = env_str(name)
    if value:
        return value
    if debug:
        return f"insecure-debug-only-{name.lower()}"
    raise ImproperlyConfigured(
        f"{name} is not set. Set it to a long random string (for example the output of "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`), or use `make run`, "
        "which generates local secrets for development."
    )


def env_rate(name: str, default: str) -> str:
    """A rate limit as DRF reads it, `<requests>/<period>` with a period of s, m, h or d (or a
    word starting so: `600/min`). DRF would only fail on a malformed one at its first use, and
    every request it governs would fail with it."""
    value = env_str(name, default)
    if not re.fullmatch(r"\d+/[smhd][a-z]*", value):
        raise ImproperlyConfigured(
            f"{name} must be a number of requests per s, min, hour or day, e.g. 600/min, "
            f"not {value!r}."
        )
    return value
