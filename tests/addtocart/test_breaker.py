"""The circuit breaker, against the test Redis (and a Redis that is not there)."""

import contextlib
import socket
import threading
import time

import pytest
from django_redis import get_redis_connection

from addtocart.breaker import CircuitBreaker, CircuitOpen


class Boom(Exception):
    pass


def ok() -> str:
    return "ok"


def fail() -> None:
    raise Boom


def run(breaker: CircuitBreaker, func, times: int = 1) -> None:
    for _ in range(times):
        with contextlib.suppress(Boom, CircuitOpen):
            breaker.call(func)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _breaker_settings(settings):
    settings.BREAKER_ERROR_PERCENT = 50
    settings.BREAKER_MIN_CALLS = 10
    settings.BREAKER_WINDOW_SECONDS = 60
    settings.BREAKER_RESET_SECONDS = 1


def test_opens_when_half_the_calls_in_the_window_failed():
    breaker = CircuitBreaker("percent")
    run(breaker, ok, 6)
    run(breaker, fail, 4)
    assert breaker.state() == "closed"  # 4 of 10 failed
    run(breaker, fail, 1)
    assert breaker.state() == "closed"  # 5 of 11
    run(breaker, fail, 1)
    assert breaker.state() == "open"  # 6 of 12


def test_needs_the_minimum_number_of_calls():
    breaker = CircuitBreaker("minimum")
    run(breaker, fail, 9)
    assert breaker.state() == "closed"
    run(breaker, fail, 1)
    assert breaker.state() == "open"


def test_an_open_breaker_fails_fast_without_calling():
    breaker = CircuitBreaker("fast")
    run(breaker, fail, 10)
    calls = []
    with pytest.raises(CircuitOpen):
        breaker.call(lambda: calls.append(1))
    assert calls == []


def test_failures_leave_the_window(settings):
    settings.BREAKER_WINDOW_SECONDS = 0.6  # buckets of 0.1 s
    breaker = CircuitBreaker("window")
    run(breaker, fail, 9)
    time.sleep(0.8)
    run(breaker, fail, 1)
    assert breaker.state() == "closed"


def test_after_the_reset_time_one_trial_call_closes_it():
    breaker = CircuitBreaker("trial")
    run(breaker, fail, 10)
    time.sleep(1.1)
    assert breaker.state() == "half_open"
    other_worker = CircuitBreaker("trial")
    seen_during_trial = []

    def trial() -> str:
        try:
            other_worker.call(ok)
        except CircuitOpen:
            seen_during_trial.append("refused")
        return "ok"

    assert breaker.call(trial) == "ok"
    assert seen_during_trial == ["refused"]  # only one trial at a time, across workers
    assert breaker.state() == "closed"
    run(breaker, fail, 1)
    assert breaker.state() == "closed"  # the old window was forgotten


def test_a_failed_trial_opens_it_again():
    breaker = CircuitBreaker("retrial")
    run(breaker, fail, 10)
    time.sleep(1.1)
    run(breaker, fail, 1)
    assert breaker.state() == "open"
    with pytest.raises(CircuitOpen):
        breaker.call(ok)
    time.sleep(1.1)
    assert breaker.call(ok) == "ok"
    assert breaker.state() == "closed"


def test_two_workers_share_counts_and_state_through_redis():
    first, second = CircuitBreaker("shared"), CircuitBreaker("shared")
    run(first, fail, 5)
    run(second, fail, 5)
    assert first.state() == second.state() == "open"
    assert get_redis_connection("default").get("addtocart:breaker:shared:opened_at")
    with pytest.raises(CircuitOpen):
        second.call(ok)


def test_concurrent_failures_open_it_once(caplog):
    breakers = [CircuitBreaker("race") for _ in range(4)]
    threads = [threading.Thread(target=run, args=(b, fail, 5)) for b in breakers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert breakers[0].state() == "open"
    assert len([r for r in caplog.records if "opened" in r.getMessage()]) == 1


def test_falls_back_to_the_process_when_redis_is_unreachable(settings, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "dead": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{unused_port()}/0"},
    }
    breaker = CircuitBreaker("no-redis", redis=get_redis_connection("dead"))
    started = time.monotonic()
    assert breaker.call(ok) == "ok"
    run(breaker, fail, 10)
    assert breaker.state() == "open"
    with pytest.raises(CircuitOpen):
        breaker.call(ok)
    assert time.monotonic() - started < 2
    warnings = [r for r in caplog.records if "Redis connection failed" in r.getMessage()]
    assert len(warnings) == 1  # then it waits before trying Redis again
    assert CircuitBreaker("no-redis").state() == "closed"  # Redis never saw it


def test_without_redis_url_the_state_is_the_process_own(settings):
    settings.REDIS_URL = ""
    breaker = CircuitBreaker("local")
    run(breaker, fail, 10)
    assert breaker.state() == "open"
    assert not get_redis_connection("default").keys("addtocart:breaker:local:*")
    time.sleep(1.1)
    assert breaker.call(ok) == "ok"
    assert breaker.state() == "closed"
