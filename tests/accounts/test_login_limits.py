"""Login limits (addtocart/login_limits.py): guessing is stopped, the owner is not locked out,
and the admin's login is limited like the API's, on the same counters."""

import logging
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from tests.accounts.conftest import admin_sign_in, sign_in
from tests.factories import PASSWORD, StaffFactory
from tests.schema import assert_ok, assert_problem

OWNER_ADDRESS = "198.51.100.10"


def test_failures_at_one_address_stop_that_address_only(api, user, login_rates):
    login_rates(login="100/min", login_failures="3/hour")
    for _ in range(3):
        assert_problem(sign_in(api, user.username, "wrong", "192.0.2.1"), 401)
    refused = sign_in(api, user.username, PASSWORD, "192.0.2.1")  # even the right password
    assert_problem(refused, 429, "throttled")
    assert int(refused["Retry-After"]) > 0
    assert_ok(sign_in(api, user.username, PASSWORD, OWNER_ADDRESS))


def test_successes_do_not_count_against_the_name(api, user, login_rates):
    login_rates(login="100/min", login_failures="2/hour", login_name="2/hour")
    for _ in range(5):
        assert_ok(sign_in(api, user.username, PASSWORD, OWNER_ADDRESS))


def test_a_flood_from_elsewhere_leaves_the_owners_usual_address_open(api, user, login_rates):
    login_rates(login="1000/min", login_failures="2/hour", login_name="5/hour")
    assert_ok(sign_in(api, user.username, PASSWORD, OWNER_ADDRESS))  # the usual address
    statuses = [
        sign_in(api, user.username, "guess", f"192.0.2.{n}").status_code for n in range(1, 20)
    ]
    assert statuses.count(401) == 5
    assert statuses.count(429) == 14
    assert_problem(sign_in(api, user.username, PASSWORD, "192.0.2.200"), 429, "throttled")
    assert_ok(sign_in(api, user.username, PASSWORD, OWNER_ADDRESS))


def test_the_name_is_matched_whatever_its_case(api, user, login_rates):
    login_rates(login="100/min", login_failures="2/hour")
    for name in (user.username.upper(), user.username.lower()):
        assert_problem(sign_in(api, name, "wrong", "192.0.2.1"), 401)
    assert_problem(sign_in(api, user.username, PASSWORD, "192.0.2.1"), 429, "throttled")


def test_every_attempt_counts_per_address(api, user, login_rates):
    login_rates(login="3/min")
    for _ in range(3):
        assert_ok(sign_in(api, user.username, PASSWORD, "192.0.2.9"))
    assert_problem(sign_in(api, user.username, PASSWORD, "192.0.2.9"), 429, "throttled")


def test_a_refusal_is_logged_with_its_reason(api, user, login_rates, caplog):
    login_rates(login="100/min", login_failures="1/hour")
    assert_problem(sign_in(api, user.username, "wrong", "192.0.2.1"), 401)
    with caplog.at_level(logging.WARNING, logger="addtocart.security"):
        assert_problem(sign_in(api, user.username, "wrong", "192.0.2.1"), 429)
    limited = [r for r in caplog.records if r.getMessage() == "security: login limited"]
    assert [(r.reason, r.username, r.client_ip) for r in limited] == [
        ("failures_for_name_at_address", user.username, "192.0.2.1")
    ]


def test_the_cache_down_lets_attempts_through(api, user, login_rates, settings):
    login_rates(login="100/min", login_failures="1/hour")
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
        }
    }
    for _ in range(3):
        assert_problem(sign_in(api, user.username, "wrong", "192.0.2.1"), 401)
    assert_ok(sign_in(api, user.username, PASSWORD, "192.0.2.1"))


# The admin's login


@pytest.fixture
def staff_member(db):
    return StaffFactory(username="keeper")


def test_admin_failures_are_limited_and_logged(staff_member, login_rates, caplog):
    login_rates(login="100/min", login_failures="2/hour")
    browser = Client()
    with caplog.at_level(logging.WARNING, logger="addtocart.security"):
        for _ in range(2):
            assert admin_sign_in(browser, "keeper", "wrong", "192.0.2.1").status_code == 200
    failed = [r for r in caplog.records if r.getMessage() == "unauthorized: failed login"]
    assert [(r.where, r.username) for r in failed] == [("admin", "keeper")] * 2
    refused = admin_sign_in(browser, "keeper", PASSWORD, "192.0.2.1")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert b"Too many sign-in attempts" in refused.content
    signed_in = admin_sign_in(browser, "keeper", PASSWORD, OWNER_ADDRESS)
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/admin/"


def test_admin_and_api_share_the_counters(api, staff_member, login_rates):
    login_rates(login="100/min", login_failures="2/hour")
    assert_problem(sign_in(api, "keeper", "wrong", "192.0.2.1"), 401)
    assert admin_sign_in(Client(), "keeper", "wrong", "192.0.2.1").status_code == 200
    assert admin_sign_in(Client(), "keeper", PASSWORD, "192.0.2.1").status_code == 429
    assert_problem(sign_in(api, "keeper", PASSWORD, "192.0.2.1"), 429, "throttled")


def test_admin_login_counts_every_attempt_per_address(staff_member, login_rates):
    login_rates(login="2/min")
    for _ in range(2):
        assert admin_sign_in(Client(), "keeper", PASSWORD, "192.0.2.5").status_code == 302
    assert admin_sign_in(Client(), "keeper", PASSWORD, "192.0.2.5").status_code == 429


def test_a_shopper_is_not_staff_and_fails_the_admin_login(user, login_rates):
    login_rates(login="100/min", login_failures="1/hour")
    assert admin_sign_in(Client(), user.username, PASSWORD, "192.0.2.1").status_code == 200
    assert admin_sign_in(Client(), user.username, PASSWORD, "192.0.2.1").status_code == 429


def test_clear_login_limits_lifts_a_names_limits_at_every_address(api, user, login_rates):
    login_rates(login="100/min", login_failures="1/hour", login_name="2/hour")
    for address in ("192.0.2.1", "192.0.2.2"):
        assert_problem(sign_in(api, user.username, "wrong", address), 401)
        assert_problem(sign_in(api, user.username, PASSWORD, address), 429)
    out = StringIO()
    call_command("clear_login_limits", user.username.upper(), stdout=out)
    assert "Cleared" in out.getvalue()
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert_ok(sign_in(api, user.username, PASSWORD, address))
