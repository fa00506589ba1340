"""Limits on password guessing that cannot be turned into locking a shopper out.

Shared by every place a password is checked: the API's sign-in, its password change and the
admin's login. Three counters, in the cache (Redis, so every worker and replica shares them):

- every attempt per client address (`THROTTLE_LOGIN`, the DRF throttle `LoginRateThrottle`);
- failures per user name *and* address (`THROTTLE_LOGIN_FAILURES`): a guesser at one address
  is stopped without touching the owner signing in from theirs;
- failures per user name from every address (`THROTTLE_LOGIN_NAME`, much higher), which stops
  a guesser spread over many addresses, but only at addresses the name has never signed in
  from (`LOGIN_KNOWN_ADDRESS_DAYS`): the owner's usual address is never refused by it.

Only failures count against a name. A slot is taken before the password is checked and given
back when the password was right, so concurrent guesses cannot slip past a limit together.
While the cache is down nothing is counted and attempts pass, as for every rate limit here.

Not django-axes: it has one failure limit for every combination of name and address, and no
notion of an address the name is known at, so it cannot keep the owner's usual address open
while a flood of failures comes from elsewhere.
"""

import contextlib
import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

security_log = logging.getLogger("addtocart.security")


class LoginLimited(Exception):
    """Too many attempts: refuse before the password is checked."""

    def __init__(self, *, reason: str, retry_after: int) -> None:
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(f"login limited ({reason}); retry after {retry_after} s")


@dataclass
class LoginAttempt:
    username: str
    address: str
    taken: list[str] = field(default_factory=list)  # counters holding a slot for this attempt
    known_address: bool = False
    succeeded: bool | None = None  # set by the caller once the password was checked


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _rate(scope: str) -> tuple[int, int]:
    """(requests, seconds) of a rate in DRF's notation, read per attempt like the throttles."""
    rate = api_settings.DEFAULT_THROTTLE_RATES[scope]
    return SimpleRateThrottle.parse_rate(None, rate)


def _take(key: str, scope: str) -> tuple[bool, int, str]:
    """Take a slot from the current window of `key`: (taken, seconds until the window ends,
    the window's counter)."""
    limit, seconds = _rate(scope)
    now = time.time()
    window = int(now // seconds)
    wait = max(1, int((window + 1) * seconds - now) + 1)
    counter = f"{key}:{window}"
    try:
        try:
            count = cache.incr(counter)
        except ValueError:  # the window's first failure, or a concurrent first: add loses
            count = 1 if cache.add(counter, 1, timeout=seconds + 1) else cache.incr(counter)
    except Exception:  # the cache is down: nothing is counted
        return True, wait, counter
    if count is None:  # django-redis with IGNORE_EXCEPTIONS: the cache is down
        return True, wait, counter
    if count > limit:
        _give_back(counter)
        return False, wait, counter
    return True, wait, counter


def _give_back(counter: str) -> None:
    with contextlib.suppress(Exception):  # expired or the cache is down: nothing to return
        cache.decr(counter)


def _keys(username: str, address: str) -> tuple[str, str, str]:
    name = _digest(username.strip().lower())
    place = _digest(address)
    return f"login:fail:{name}:{place}", f"login:fail:{name}", f"login:known:{name}:{place}"


def _begin(*, username: str, address: str) -> LoginAttempt:
    attempt = LoginAttempt(username=username, address=address)
    per_address, per_name, known = _keys(username, address)
    try:
        attempt.known_address = bool(cache.get(known))
    except Exception:  # the cache is down
        attempt.known_address = False
    checks = [(per_address, "login_failures", "failures_for_name_at_address")]
    if not attempt.known_address:
        checks.append((per_name, "login_name", "failures_for_name"))
    for key, scope, reason in checks:
        taken, wait, counter = _take(key, scope)
        if not taken:
            for held in attempt.taken:
                _give_back(held)
            security_log.warning(
                "security: login limited",
                extra={"reason": reason, "username": username[:150], "client_ip": address},
            )
            raise LoginLimited(reason=reason, retry_after=wait)
        attempt.taken.append(counter)
    return attempt


def _end(attempt: LoginAttempt, *, where: str) -> None:
    _, per_name, known = _keys(attempt.username, attempt.address)
    if attempt.succeeded is not False:  # right, or never checked (a malformed request)
        for held in attempt.taken:
            _give_back(held)
        if attempt.succeeded:
            with contextlib.suppress(Exception):  # the cache is down: known next time
                cache.set(known, 1, timeout=settings.LOGIN_KNOWN_ADDRESS_DAYS * 86400)
        return
    if attempt.known_address:  # a failure at a known address still counts towards the name
        _take(per_name, "login_name")
    if where == "token":
        return  # the request log's security event has it (observability/middleware.py)
    security_log.warning(
        "unauthorized: failed login",
        extra={"where": where, "username": attempt.username[:150], "client_ip": attempt.address},
    )


@contextlib.contextmanager
def login_attempt(*, username: str, address: str, where: str) -> Iterator[LoginAttempt]:
    """Around checking a password: raises LoginLimited (before the block) if this name may
    not be tried from this address now. The block sets `attempt.succeeded`; a failure keeps
    its slots and is logged, a success gives them back and marks the address as known."""
    attempt = _begin(username=username, address=address)
    try:
        yield attempt
    finally:
        _end(attempt, where=where)


def login_limits_clear(*, username: str) -> bool:
    """Forget a user name's failures, at every address (the runbook's way to lift its limits
    at once). Needs Redis: without it the counters live in each server process. Returns
    whether the cache could do it."""
    delete_pattern = getattr(cache, "delete_pattern", None)
    if delete_pattern is None:
        return False
    _, per_name, _ = _keys(username, "")
    delete_pattern(f"{per_name}*")  # per_name is the prefix of the per-address counters too
    return True
