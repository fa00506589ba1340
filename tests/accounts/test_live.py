"""Issue 17's account rules against a running server, through HTTP as clients send it: each
of these failed on the code before them."""

import pytest
import requests
from django.contrib.auth import get_user_model

from tests.factories import PASSWORD, ProductFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
NEW_PASSWORD = "a-new-Passw0rd-for-2027"
User = get_user_model()


@pytest.fixture
def server(live_server, settings):
    """The live server with the production login limits (the test settings lift them),
    trusting one proxy so that each test can come from any address."""
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    production = {"login": "10/min", "login_failures": "10/hour", "login_name": "100/hour"}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "NUM_PROXIES": 1,
        "DEFAULT_THROTTLE_RATES": {**rates, **production},
    }
    settings.TRUSTED_PROXIES = 1
    return live_server.url


def post(url: str, body: dict, *, address: str = "203.0.113.7", token: str | None = None):
    headers = {"X-Forwarded-For": address}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(url, json=body, headers=headers, timeout=10)


def sign_in(server: str, username: str, password: str = PASSWORD, **kwargs):
    body = {"username": username, "password": password}
    return post(f"{server}/api/v1/auth/token/", body, **kwargs)


def refresh(server: str, tokens: dict):
    return post(f"{server}/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})


class AdminBrowser:
    """The admin as a browser uses it: CSRF cookie and token, a session cookie."""

    def __init__(self, server: str, address: str = "203.0.113.50") -> None:
        self.server, self.session = server, requests.Session()
        self.session.headers["X-Forwarded-For"] = address

    def submit(self, path: str, form: dict) -> requests.Response:
        url = f"{self.server}{path}"
        self.session.get(url, timeout=10)
        form = {**form, "csrfmiddlewaretoken": self.session.cookies["csrftoken"]}
        return self.session.post(
            url, data=form, headers={"Referer": url}, allow_redirects=False, timeout=10
        )

    def sign_in(self, username: str, password: str = PASSWORD) -> requests.Response:
        return self.submit("/admin/login/", {"username": username, "password": password})


def test_the_admin_login_is_limited(server):
    StaffFactory(username="keeper")
    browser = AdminBrowser(server)
    answers = [browser.sign_in("keeper", "guess").status_code for _ in range(11)]
    assert answers[:10] == [200] * 10
    assert answers[10] == 429
    assert int(browser.sign_in("keeper").headers["Retry-After"]) > 0
    assert AdminBrowser(server, "198.51.100.10").sign_in("keeper").status_code == 302


def test_a_flood_of_failures_does_not_lock_the_owner_out(server):
    owner = UserFactory()
    assert sign_in(server, owner.username, address="198.51.100.10").status_code == 200
    for n in range(120):  # past the name's ceiling of 100 failures from unknown addresses
        sign_in(server, owner.username, "guess", address=f"192.0.{n // 100}.{n % 100}")
    assert sign_in(server, owner.username, address="192.0.9.9").status_code == 429
    assert sign_in(server, owner.username, address="198.51.100.10").status_code == 200


def test_a_password_change_ends_every_earlier_session(server):
    shopper = UserFactory()
    phone, laptop = sign_in(server, shopper.username).json(), sign_in(server, shopper.username)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    changed = post(f"{server}/api/v1/auth/password/", body, token=phone["access"])
    assert changed.status_code == 204
    for tokens in (phone, laptop.json()):
        assert refresh(server, tokens).status_code == 401
    assert sign_in(server, shopper.username, NEW_PASSWORD).status_code == 200


def test_staff_changing_a_password_in_the_admin_ends_the_shoppers_sessions(server):
    StaffFactory(username="keeper", is_superuser=True)
    shopper = UserFactory()
    tokens = sign_in(server, shopper.username).json()
    browser = AdminBrowser(server)
    assert browser.sign_in("keeper").status_code == 302
    form = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    assert browser.submit(f"/admin/auth/user/{shopper.pk}/password/", form).status_code == 302
    assert refresh(server, tokens).status_code == 401


def test_logout_all_ends_every_session(server):
    shopper = UserFactory()
    phone, laptop = (sign_in(server, shopper.username).json() for _ in range(2))
    logout = post(f"{server}/api/v1/auth/logout/", {"all": True}, token=phone["access"])
    assert logout.status_code == 204
    assert [refresh(server, tokens).status_code for tokens in (phone, laptop)] == [401, 401]


def test_a_deactivated_account_cannot_check_out(server):
    shopper, product = UserFactory(), ProductFactory(stock=5)
    access = sign_in(server, shopper.username).json()["access"]
    item = {"product_id": product.pk, "quantity": 1}
    assert post(f"{server}/api/v1/cart/items/", item, token=access).status_code == 201
    User.objects.filter(pk=shopper.pk).update(is_active=False)
    refused = post(f"{server}/api/v1/cart/checkout/", {}, token=access)
    assert refused.status_code == 401
    assert refused.json()["code"] == "account_inactive"
    product.refresh_from_db()
    assert product.stock == 5
