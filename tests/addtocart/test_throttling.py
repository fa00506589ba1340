"""Rate limits count per client IP for guests and per user when signed in, in Redis."""

import pytest
from rest_framework.test import APIClient

from tests.conftest import bearer

PRODUCTS = "/api/v1/products/"


@pytest.fixture
def limits(settings):
    def set_limits(num_proxies: int = 0, **rates: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                **rates,
            },
            "NUM_PROXIES": num_proxies,
        }

    return set_limits


def codes(client: APIClient, times: int, **headers) -> list[int]:
    return [client.get(PRODUCTS, **headers).status_code for _ in range(times)]


@pytest.mark.django_db
def test_without_trusted_proxies_a_forged_forwarded_for_does_not_escape_the_limit(limits):
    limits(anon="2/min")
    client = APIClient()
    answers = [
        client.get(PRODUCTS, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(3)
    ]
    assert answers == [200, 200, 429]


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_client_ip_has_its_own_count(limits):
    limits(num_proxies=1, anon="2/min")
    client = APIClient()
    assert codes(client, 3, HTTP_X_FORWARDED_FOR="203.0.113.1") == [200, 200, 429]
    assert codes(client, 2, HTTP_X_FORWARDED_FOR="203.0.113.2") == [200, 200]


@pytest.mark.django_db
def test_a_signed_in_user_is_counted_whatever_the_ip(limits, user):
    limits(user="2/min")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(user))
    first = client.get(PRODUCTS, REMOTE_ADDR="198.51.100.1").status_code
    second = client.get(PRODUCTS, REMOTE_ADDR="198.51.100.2").status_code
    third = client.get(PRODUCTS, REMOTE_ADDR="198.51.100.3").status_code
    assert [first, second, third] == [200, 200, 429]
    assert codes(APIClient(), 1) == [200], "guests are counted apart from the user"


@pytest.mark.django_db
def test_a_guest_is_counted_once_per_ip_at_the_guest_rate(limits):
    from django_redis import get_redis_connection

    limits(anon="3/min", user="1/min")
    assert codes(APIClient(), 4) == [200, 200, 200, 429]
    assert not get_redis_connection("default").keys("*throttle_user_*")


@pytest.mark.django_db
def test_the_counters_live_in_redis(limits, settings):
    from django_redis import get_redis_connection

    limits(anon="5/min")
    codes(APIClient(), 1)
    keys = get_redis_connection("default").keys("*throttle_anon_*")
    assert keys, "the anonymous counter should be a Redis key every replica can see"


@pytest.mark.django_db
def test_a_windows_counter_expires_after_the_window(limits):
    from django_redis import get_redis_connection

    limits(anon="5/min")
    codes(APIClient(), 2)
    redis = get_redis_connection("default")
    [key] = redis.keys("*throttle_anon_*")
    assert int(redis.get(key)) == 2
    assert 0 < redis.ttl(key) <= 61


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_simultaneous_requests_gets_exactly_the_limit_through(limits, live_server):
    """DRF's read-then-write count let 12 of 36 through a limit of 10; INCR lets 10."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import requests

    limits(anon="10/hour")
    barrier = threading.Barrier(36)

    def call(_):
        barrier.wait()
        return requests.get(f"{live_server.url}{PRODUCTS}", timeout=30).status_code

    with ThreadPoolExecutor(max_workers=36) as pool:
        answers = list(pool.map(call, range(36)))
    assert answers.count(200) == 10
    assert answers.count(429) == 26
