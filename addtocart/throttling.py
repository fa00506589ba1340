"""Rate limits: DRF's throttles, counted with one atomic increment per request.

DRF's own throttles read a list of timestamps from the cache and write it back, so requests
arriving together on several workers or replicas all read the same count and all pass (36
simultaneous requests got 12 through a limit of 10). Here each request increments a counter
for the current window (INCR in Redis), which no concurrent request can lose; the price is a
fixed window instead of a sliding one. Rates are read per request, so settings stay the one
source. While Redis is down nothing is counted and requests pass.
"""

import hashlib

from rest_framework import throttling
from rest_framework.settings import api_settings


class _RatesFromSettings:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        window = int(self.timer() // self.duration)
        self.window_ends_at = (window + 1) * self.duration
        key = f"{key}_{window}"
        try:
            count = self.cache.incr(key)  # one round trip while the window is open
        except ValueError:  # the window's first request (or a concurrent first: add loses)
            opened = self.cache.add(key, 1, timeout=self.duration + 1)
            count = 1 if opened else self.cache.incr(key)
        return count is None or count <= self.num_requests

    def wait(self) -> float:
        return max(1.0, self.window_ends_at - self.timer())


class AnonRateThrottle(_RatesFromSettings, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_RatesFromSettings, throttling.UserRateThrottle):
    """Per signed-in user. Guests are counted per IP by AnonRateThrottle alone: DRF's class
    would count them a second time, per IP at the user rate, at the cost of a second Redis
    round trip on every guest request."""

    def get_cache_key(self, request, view):
        if not request.user.is_authenticated:
            return None
        return super().get_cache_key(request, view)


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
