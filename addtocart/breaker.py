"""A circuit breaker for calls to other services, its state shared through Redis.

What it does:
- Counts the calls and failures of each breaker in time buckets (a sixth of
  `BREAKER_WINDOW_SECONDS` each: 10 s by default). A call is a failure when it raises.
- Opens when, over the last window, at least `BREAKER_MIN_CALLS` calls were made and at least
  `BREAKER_ERROR_PERCENT` % of them failed. While open, `call` raises `CircuitOpen` at once,
  without making the call.
- After `BREAKER_RESET_SECONDS` it is half-open: one trial call is let through (a lease taken
  with SET NX, so one for all workers). Success closes the breaker and forgets the window;
  failure opens it for another `BREAKER_RESET_SECONDS`.
- Keeps its state in Redis (the django-redis connection) so every worker and replica sees
  the same breaker. Without Redis, or while Redis does not answer, it keeps the same state in
  the process and tries Redis again after a few seconds. Redis errors never reach the caller.

What it does not do: time calls out (the caller's HTTP client does), retry, supply fallback
values, or count slow calls. The window is as exact as a bucket. Counts made in a process
while Redis was down are not merged back into Redis.

Why not a library: pybreaker (which has Redis storage) and circuitbreaker open after a run of
consecutive failures, not on a share of recent calls; aiobreaker and purgatory are for
asyncio; interlock-cb has a sliding window and Redis storage, but counts the window in each
process (only open/half-open is shared) and is a young 4,000-line dependency. The rule we need
fits in this file.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django_redis import get_redis_connection
from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
BUCKETS_PER_WINDOW = 6
REDIS_RETRY_SECONDS = 5.0


class CircuitOpen(Exception):
    """The breaker is open: the call was not made."""


class RedisState:
    """The breaker's state in Redis, under `addtocart:breaker:<name>:*`."""

    def __init__(self, client: Redis, name: str) -> None:
        self.client = client
        self.prefix = f"addtocart:breaker:{name}"

    def _bucket_keys(self, buckets: range) -> tuple[list[str], list[str]]:
        return (
            [f"{self.prefix}:calls:{bucket}" for bucket in buckets],
            [f"{self.prefix}:failures:{bucket}" for bucket in buckets],
        )

    def opened_at(self) -> float | None:
        value = self.client.get(f"{self.prefix}:opened_at")
        return None if value is None else float(value)

    def take_trial(self, seconds: float) -> bool:
        return bool(
            self.client.set(f"{self.prefix}:trial", 1, nx=True, px=max(1, int(seconds * 1000)))
        )

    def record(self, *, failed: bool, buckets: range, ttl: int) -> tuple[int, int]:
        calls_keys, failures_keys = self._bucket_keys(buckets)
        pipe = self.client.pipeline(transaction=False)
        pipe.incr(calls_keys[-1])
        pipe.expire(calls_keys[-1], ttl)
        if failed:
            pipe.incr(failures_keys[-1])
            pipe.expire(failures_keys[-1], ttl)
        pipe.mget(calls_keys)
        pipe.mget(failures_keys)
        *_, calls, failures = pipe.execute()
        return sum(int(n or 0) for n in calls), sum(int(n or 0) for n in failures)

    def open(self, now: float) -> bool:
        """Open a closed breaker; False if it was open already."""
        return bool(self.client.set(f"{self.prefix}:opened_at", now, nx=True))

    def reopen(self, now: float) -> None:
        self.client.set(f"{self.prefix}:opened_at", now)
        self.client.delete(f"{self.prefix}:trial")

    def close(self, buckets: range) -> None:
        calls_keys, failures_keys = self._bucket_keys(buckets)
        self.client.delete(
            f"{self.prefix}:opened_at", f"{self.prefix}:trial", *calls_keys, *failures_keys
        )


class LocalState:
    """The same state in this process, for when Redis is not there."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[int, list[int]] = {}  # bucket -> [calls, failures]
        self.opened: float | None = None
        self.trial_until = 0.0

    def opened_at(self) -> float | None:
        return self.opened

    def take_trial(self, seconds: float) -> bool:
        with self.lock:
            now = time.time()
            if now < self.trial_until:
                return False
            self.trial_until = now + seconds
            return True

    def record(self, *, failed: bool, buckets: range, ttl: int) -> tuple[int, int]:
        with self.lock:
            self.counts = {b: c for b, c in self.counts.items() if b >= buckets.start}
            counts = self.counts.setdefault(buckets[-1], [0, 0])
            counts[0] += 1
            counts[1] += failed
            return (
                sum(c[0] for c in self.counts.values()),
                sum(c[1] for c in self.counts.values()),
            )

    def open(self, now: float) -> bool:
        with self.lock:
            if self.opened is not None:
                return False
            self.opened = now
            return True

    def reopen(self, now: float) -> None:
        with self.lock:
            self.opened, self.trial_until = now, 0.0

    def close(self, buckets: range) -> None:
        with self.lock:
            self.opened, self.trial_until, self.counts = None, 0.0, {}


class CircuitBreaker:
    """`breaker.call(func)` runs func unless the breaker is open; settings are read per call.

    `redis` is the client to keep the state in; by default the django-redis connection of the
    default cache when `REDIS_URL` is set, else the process's own state.
    """

    def __init__(self, name: str, *, redis: Redis | None = None) -> None:
        self.name = name
        self._redis = redis
        self._local = LocalState()
        self._redis_retry_at = 0.0

    def _client(self) -> Redis | None:
        if self._redis is not None:
            return self._redis
        if not settings.REDIS_URL:
            return None
        try:
            return get_redis_connection("default")
        except NotImplementedError:  # the default cache is not django-redis
            return None

    def _with_state(self, action: Callable[[RedisState | LocalState], T]) -> T:
        client = self._client() if time.monotonic() >= self._redis_retry_at else None
        if client is not None:
            try:
                return action(RedisState(client, self.name))
            except (RedisError, OSError) as exc:
                logger.warning(
                    "Circuit breaker %s: Redis connection failed (%s); using this process's "
                    "state for %.0f s",
                    self.name,
                    exc.__class__.__name__,
                    REDIS_RETRY_SECONDS,
                )
                self._redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
        return action(self._local)

    def _window(self) -> tuple[range, int]:
        """The buckets of the current window, and how long a bucket's counters must live."""
        size = settings.BREAKER_WINDOW_SECONDS / BUCKETS_PER_WINDOW
        current = int(time.time() // size)
        ttl = int(settings.BREAKER_WINDOW_SECONDS + size) + 1
        return range(current - BUCKETS_PER_WINDOW + 1, current + 1), ttl

    def state(self) -> str:
        opened_at = self._with_state(lambda state: state.opened_at())
        if opened_at is None:
            return CLOSED
        if time.time() - opened_at < settings.BREAKER_RESET_SECONDS:
            return OPEN
        return HALF_OPEN

    def call(self, func: Callable[[], T]) -> T:
        trial = self._admit()
        try:
            result = func()
        except Exception:
            self._after(failed=True, trial=trial)
            raise
        self._after(failed=False, trial=trial)
        return result

    def _admit(self) -> bool:
        """Whether the call is the half-open trial; raises CircuitOpen if it may not run."""
        state = self.state()
        if state == CLOSED:
            return False
        reset = settings.BREAKER_RESET_SECONDS
        if state == HALF_OPEN and self._with_state(lambda s: s.take_trial(reset)):
            return True
        raise CircuitOpen(f"The {self.name} circuit is open.")

    def _after(self, *, failed: bool, trial: bool) -> None:
        buckets, ttl = self._window()
        if trial and failed:
            self._with_state(lambda s: s.reopen(time.time()))
            logger.warning("Circuit breaker %s: the trial call failed; open again", self.name)
            return
        if trial:
            self._with_state(lambda s: s.close(buckets))
            logger.warning("Circuit breaker %s: the trial call succeeded; closed", self.name)
            return
        calls, failures = self._with_state(
            lambda s: s.record(failed=failed, buckets=buckets, ttl=ttl)
        )
        if (
            failed
            and calls >= settings.BREAKER_MIN_CALLS
            and failures * 100 >= settings.BREAKER_ERROR_PERCENT * calls
            and self._with_state(lambda s: s.open(time.time()))
        ):
            logger.error(
                "Circuit breaker %s: opened, %d of %d calls failed in the last %s s",
                self.name,
                failures,
                calls,
                settings.BREAKER_WINDOW_SECONDS,
            )
