"""DRF's throttles, reading their rates at request time.

DRF copies the rates into the class when it is imported, so a changed setting would
otherwise be ignored until restart; reading them per request keeps settings the one source.
Counters live in the default cache (Redis in production), shared by every worker and replica.
"""

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
