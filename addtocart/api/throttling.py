"""Rate limits: DRF's throttles, counted with atomic increments of a per-window counter.

DRF's own throttles read a list of timestamps from the cache and write it back, so requests
arriving together on several workers or replicas all read the same count and all pass (36
simultaneous requests got 12 through a limit of 10). Here the count of the current window is a
counter (INCRBY in Redis), which no concurrent request can lose; the price is a fixed window
instead of a sliding one. Rates are read per request, so settings stay the one source. While
Redis is down nothing is counted and requests pass.

A process takes its requests from the counter in leases (`THROTTLE_LEASE`, at most 1 in 50 of
the limit, fewer as the limit nears): one INCRBY of n grants n requests, and the next n-1 of
that client in this process pass without a round trip to Redis. Leases cut Redis round trips
by up to n times, and the counter still never hands out more than the limit, since every
granted request was counted first. What they cost: requests granted to one process and not
used there are lost to the client for the rest of the window, so a client whose requests
move between processes may be refused up to n-1 requests per process early. Limits under
100 a window are always counted one by one.
"""

import hashlib
import threading
from dataclasses import dataclass

from django.conf import settings
from rest_framework import throttling
from rest_framework.settings import api_settings

_MAX_LEASES = 10_000


@dataclass
class _Lease:
    unused: int  # granted to this process, not yet used
    counted: int  # the window's count after this process's latest increment
    ends_at: float


_leases: dict[str, _Lease] = {}
_leases_lock = threading.Lock()


def leases_clear() -> None:
    with _leases_lock:
        _leases.clear()


def _lease_take(key: str) -> tuple[bool, int]:
    """One request from this process's lease on `key`: (taken, the count it last saw)."""
    with _leases_lock:
        lease = _leases.get(key)
        if lease is None:
            return False, 0
        if lease.unused:
            lease.unused -= 1
            return True, lease.counted
        return False, lease.counted


def _lease_keep(key: str, *, unused: int, counted: int, ends_at: float, now: float) -> None:
    with _leases_lock:
        lease = _leases.get(key)
        if lease is not None:
            lease.unused += unused
            lease.counted = max(lease.counted, counted)
            return
        if len(_leases) >= _MAX_LEASES:
            for old in [k for k, kept in _leases.items() if kept.ends_at <= now]:
                del _leases[old]
            if len(_leases) >= _MAX_LEASES:
                _leases.clear()  # forgetting a lease only refuses its unused requests
        _leases[key] = _Lease(unused=unused, counted=counted, ends_at=ends_at)


class _RatesFromSettings:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.window_ends_at = (window + 1) * self.duration
        key = f"{key}_{window}"
        taken, counted = _lease_take(key)
        if taken:
            return True
        size = self.lease_size(counted)
        count = self.increment(key, size)
        if count is None:  # Redis is down
            return True
        granted = max(0, min(size, self.num_requests - (count - size)))
        _lease_keep(
            key,
            unused=max(0, granted - 1),
            counted=count,
            ends_at=self.window_ends_at,
            now=now,
        )
        return granted > 0

    def lease_size(self, counted: int) -> int:
        """Requests to take at once: up to THROTTLE_LEASE and 1 in 50 of the limit, and a
        tenth of what was left at this process's last count, so leases shrink near the limit."""
        most = min(settings.THROTTLE_LEASE, self.num_requests // 50)
        return max(1, min(most, (self.num_requests - counted) // 10))

    def increment(self, key: str, size: int) -> int | None:
        try:
            return self.cache.incr(key, size)  # one round trip while the window is open
        except ValueError:  # the window's first request (or a concurrent first: add loses)
            opened = self.cache.add(key, size, timeout=self.duration + 1)
            return size if opened else self.cache.incr(key, size)

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


class DiscountCodeThrottle(_RatesFromSettings, throttling.SimpleRateThrottle):
    """Attempts to apply a discount code, per signed-in user or, for guests, per IP (a guest
    can start a new session at will), so that codes cannot be found by guessing."""

    scope = "discount_code"

    def get_cache_key(self, request, view):
        user = request.user
        ident = f"user-{user.pk}" if user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
