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


def anon_counter():
    """Redis and the key of the one guest counter there."""
    from django_redis import get_redis_connection

    redis = get_redis_connection("default")
    [key] = redis.keys("*throttle_anon_*")
    return redis, key


def anon_count() -> int:
    redis, key = anon_counter()
    return int(redis.get(key))


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
    limits(anon="5/min")
    codes(APIClient(), 2)
    redis, key = anon_counter()
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


@pytest.mark.django_db
def test_a_lease_is_counted_in_redis_before_its_requests_are_served(limits):
    limits(anon="1000/min")  # leases of THROTTLE_LEASE (10)
    client = APIClient()
    assert codes(client, 1) == [200]
    assert anon_count() == 10
    assert codes(client, 9) == [200] * 9
    assert anon_count() == 10, "the lease's other nine should not go to Redis"
    assert codes(client, 1) == [200]
    assert anon_count() == 20


@pytest.mark.django_db
def test_limits_under_100_a_window_are_counted_one_by_one(limits, settings):
    limits(anon="99/min")
    codes(APIClient(), 3)
    assert anon_count() == 3
    limits(anon="1000/min")
    settings.THROTTLE_LEASE = 1
    codes(APIClient(), 2)
    assert anon_count() == 5


@pytest.fixture
def processes(monkeypatch):
    """Stands for several worker processes: each keeps its own leases."""
    from addtocart.api import throttling

    stores: list[dict] = [{}, {}, {}]

    def in_process(number: int) -> None:
        monkeypatch.setattr(throttling, "_leases", stores[number])

    return in_process


@pytest.mark.django_db
def test_processes_taking_turns_get_exactly_the_limit_through(limits, processes):
    limits(anon="500/min")
    client = APIClient()
    answers = []
    for n in range(600):
        processes(n % 3)
        answers.append(client.get(PRODUCTS).status_code)
    assert answers.count(200) == 500
    assert answers[:480] == [200] * 480


@pytest.mark.django_db
def test_a_lease_left_unused_in_one_process_refuses_at_most_its_size_early(limits, processes):
    limits(anon="500/min")
    client = APIClient()
    processes(0)
    assert codes(client, 1) == [200]
    processes(1)
    answers = codes(client, 600)
    assert answers.count(200) == 490, "the 9 left in the first process's lease are lost"


@pytest.mark.django_db
def test_leases_shrink_as_the_limit_nears(limits):
    limits(anon="1000/min")
    client = APIClient()
    codes(client, 10)  # one lease of 10, used up
    redis, key = anon_counter()
    redis.incrby(key, 940)  # other processes' requests: 950 counted
    codes(client, 10)  # a lease of 10 sized on the count last seen (10), used up: 960
    codes(client, 1)
    assert anon_count() == 964, "40 left at 960: a lease of 4"
    codes(client, 3)
    codes(client, 1)
    assert anon_count() == 967, "36 left at 964: a lease of 3"


@pytest.mark.django_db
def test_a_lease_that_crosses_the_limit_grants_only_up_to_it(limits):
    limits(anon="1000/min")
    client = APIClient()
    codes(client, 10)
    redis, key = anon_counter()
    redis.incrby(key, 985)  # 995 counted; this process last saw 10 and asks for 10
    assert codes(client, 10) == [200] * 5 + [429] * 5


def test_leases_of_ended_windows_are_dropped_when_the_store_is_full(monkeypatch):
    from addtocart.api import throttling

    monkeypatch.setattr(throttling, "_MAX_LEASES", 3)
    monkeypatch.setattr(throttling, "_leases", {})
    for key in ("a", "b"):
        throttling._lease_keep(key, unused=5, counted=10, ends_at=60.0, now=30.0)
    throttling._lease_keep("c", unused=5, counted=10, ends_at=120.0, now=90.0)
    throttling._lease_keep("d", unused=5, counted=10, ends_at=120.0, now=90.0)
    assert set(throttling._leases) == {"c", "d"}
    assert throttling._lease_take("c") == (True, 10)
    assert throttling._lease_take("a") == (False, 0)


@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_in_one_process_share_its_leases_exactly(limits, live_server):
    from concurrent.futures import ThreadPoolExecutor

    import requests

    limits(anon="200/hour")  # leases of 4
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(
            pool.map(
                lambda _: requests.get(f"{live_server.url}{PRODUCTS}", timeout=30).status_code,
                range(240),
            )
        )
    assert answers.count(200) == 200
    assert answers.count(429) == 40
