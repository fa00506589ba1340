"""DRF's throttles, reading their rates at request time.

DRF copies the rates into the class when it is imported, so a changed setting would
otherwise be ignored until restart; reading them per request keeps settings the one source.
Counters live in the default cache (Redis in production), shared by every worker and replica.
"""

import hashlib

from rest_framework import throttling
from rest_framework.settings import api_settings


class _RatesFromSettings:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonRateThrottle(_RatesFromSettings, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_RatesFromSettings, throttling.UserRateThrottle):
    pass


class LoginRateThrottle(_RatesFromSettings, throttling.AnonRateThrottle):
    """Per client IP on the token endpoint, whether or not a token is sent."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginUsernameThrottle(_RatesFromSettings, throttling.SimpleRateThrottle):
    """Per user name tried on the token endpoint, from whatever addresses the tries come."""

    scope = "login"

    def get_cache_key(self, request, view):
        username = request.data.get("username") if isinstance(request.data, dict) else None
        if not isinstance(username, str) or not username:
            return None
        digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": "login_username", "ident": digest}
