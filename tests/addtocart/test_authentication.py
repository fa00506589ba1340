"""Access tokens verified once per worker: reused while valid, refused once expired."""

import time
from datetime import timedelta

from rest_framework_simplejwt.tokens import AccessToken

from addtocart.api.authentication import _verified

CART = "/api/v1/cart/"


def short_lived(user, seconds: float) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return str(token)


def get_cart(api, token: str):
    return api.get(CART, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_token_is_verified_once_then_reused(api, user):
    token = short_lived(user, 600)
    before = _verified.cache_info()
    assert get_cart(api, token).status_code == 200
    assert get_cart(api, token).status_code == 200
    after = _verified.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)


def test_a_token_verified_while_valid_is_refused_once_expired(api, user):
    token = short_lived(user, 5)  # whole seconds: the claim is truncated, a slow box is slow
    assert get_cart(api, token).status_code == 200
    time.sleep(max(0.0, AccessToken(token, verify=False)["exp"] - time.time()) + 1.1)
    refused = get_cart(api, token)
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_not_valid"


def test_a_forged_token_is_refused_and_not_kept(api, user):
    header, payload, signature = short_lived(user, 600).split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    kept = _verified.cache_info().currsize
    assert get_cart(api, forged).status_code == 401
    assert get_cart(api, forged).status_code == 401
    assert _verified.cache_info().currsize == kept
