"""Sign-up, tokens and their refresh, through the HTTP API and its OpenAPI schema."""

from datetime import timedelta
from unittest.mock import ANY

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from carts.models import Cart
from tests.factories import PASSWORD, UserFactory
from tests.schema import assert_ok, assert_problem

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
CART = "/api/v1/cart/"
ITEMS = "/api/v1/cart/items/"
PRODUCTS = "/api/v1/products/"
User = get_user_model()


def register(client, **fields):
    body = {"username": "alice", "password": PASSWORD, **fields}
    return client.post(REGISTER, body, format="json")


def obtain(client, user, password=PASSWORD):
    return client.post(TOKEN, {"username": user.username, "password": password}, format="json")


# Register


@pytest.mark.parametrize("email", ["alice@example.com", None])
def test_register_creates_shopper(api, db, email):
    response = register(api, **({"email": email} if email else {}))
    body = assert_ok(response, 201)
    assert body == {"username": "alice", "email": email or "", "detail": ANY}
    user = User.objects.get(username="alice")
    assert user.check_password(PASSWORD)
    assert not user.is_staff
    assert not user.is_superuser


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "xK9!q"),
        ("alice", "qwertyuiop"),
        ("alice", "4829301756482"),
        ("margaret.hamilton", "margaret.hamilton1"),
    ],
    ids=["short", "common", "numeric", "like username"],
)
def test_register_password_validators(api, db, username, password):
    body = assert_problem(register(api, username=username, password=password), 400, "invalid")
    assert body["errors"]["password"]
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["alice", "ALICE", "Alice"])
def test_register_does_not_reveal_a_taken_username(api, db, username):
    UserFactory(username="alice")
    taken = assert_ok(register(api, username=username, password="an-intruder-passphrase-7"), 201)
    free = assert_ok(register(api, username="bob"), 201)
    assert taken["detail"] == free["detail"]
    assert taken.keys() == free.keys()
    assert User.objects.count() == 2
    assert not User.objects.get(username="alice").check_password("an-intruder-passphrase-7")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"is_staff": True}, "is_staff"),
        ({"username": "bad name!"}, "username"),
        ({"username": ""}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"password": None}, "password"),
    ],
)
def test_register_invalid_body(api, db, change, field):
    body = assert_problem(register(api, **change), 400, "invalid")
    assert field in body["errors"]
    assert not User.objects.exists()


# Tokens


def test_token_pair_signs_in(api, user, product):
    body = assert_ok(obtain(api, user))
    assert body.keys() == {"access", "refresh"}
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert_ok(api.post(ITEMS, {"product_id": product.pk}, format="json"), 201)
    assert Cart.objects.get().user_id == user.pk


@pytest.mark.parametrize("who", ["wrong password", "unknown user", "inactive user"])
def test_token_refused_401(api, user, who):
    if who == "inactive user":
        User.objects.filter(pk=user.pk).update(is_active=False)
    if who == "unknown user":
        user = UserFactory.build()
    response = obtain(api, user, "wrong-password" if who == "wrong password" else PASSWORD)
    assert_problem(response, 401, "no_active_account")


def test_refresh_rotates_and_blacklists(api, user):
    pair = assert_ok(obtain(api, user))
    fresh = assert_ok(api.post(REFRESH, {"refresh": pair["refresh"]}, format="json"))
    assert fresh.keys() == {"access", "refresh"}
    assert fresh["access"] != pair["access"]
    assert fresh["refresh"] != pair["refresh"]
    assert AccessToken(fresh["access"])["user_id"] == str(user.pk)
    assert_ok(api.post(REFRESH, {"refresh": fresh["refresh"]}, format="json"))
    reused = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert_problem(reused, 401, "token_not_valid")


def expired_access(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    return str(token)


def foreign_access(user) -> str:
    claims = {
        "token_type": "access",
        "user_id": str(user.pk),
        "jti": "forged",
        "exp": timezone.now() + timedelta(minutes=5),
    }
    return jwt.encode(claims, "another-signing-key-of-at-least-32-bytes", algorithm="HS256")


BAD_TOKENS = {
    "garbage": lambda user: "not-a-jwt",
    "expired": expired_access,
    "refresh token": lambda user: str(RefreshToken.for_user(user)),
    "other signing key": foreign_access,
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_bad_token_on_cart_401(api, user, kind):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {BAD_TOKENS[kind](user)}")
    response = api.get(CART)
    assert_problem(response, 401, "token_not_valid")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_token_of_deleted_account_cannot_start_cart(user_api, user, product):
    user.delete()
    response = user_api.post(ITEMS, {"product_id": product.pk}, format="json")
    assert_problem(response, 401, "not_authenticated")
    assert not Cart.objects.exists()


# The login throttle


@pytest.mark.parametrize("path", [TOKEN, REGISTER])
def test_login_throttle(api, user, settings, path):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "login": "3/min"},
    }
    attempt = {"username": user.username, "password": "wrong-password"}
    for _ in range(3):
        assert api.post(path, attempt, format="json").status_code in (201, 400, 401)
    response = api.post(path, attempt, format="json")
    assert int(response["Retry-After"]) > 0
    assert api.get(PRODUCTS).status_code == 200
    assert_problem(response, 429, "throttled")


# Sign-out and deactivation


def test_logout_revokes_the_refresh_token(api, user):
    tokens = assert_ok(obtain(api, user))
    response = api.post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 204
    refused = api.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert_problem(refused, 401)


def test_logout_with_a_bad_token_is_a_problem(api, db):
    assert_problem(api.post("/api/v1/auth/logout/", {"refresh": "nonsense"}, format="json"), 401)
    assert_problem(api.post("/api/v1/auth/logout/", {}, format="json"), 400, "invalid")


@pytest.mark.parametrize("fate", ["deactivated", "deleted"])
def test_an_account_gone_loses_access_at_the_next_refresh(api, user, fate):
    tokens = assert_ok(obtain(api, user))
    if fate == "deleted":
        user.delete()
    else:
        User.objects.filter(pk=user.pk).update(is_active=False)
    refused = api.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert_problem(refused, 401)
