"""Nothing that depends on the caller is kept by a shared cache (addtocart/api/caching.py),
checked against a live server."""

import pytest
import requests

from tests.conftest import bearer
from tests.factories import ProductFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
PRIVATE = "private, no-store"


def vary(response: requests.Response) -> set[str]:
    return {name.strip().lower() for name in response.headers.get("Vary", "").split(",")}


def test_every_answer_about_the_caller_is_private(live_server):
    product, user = ProductFactory(), UserFactory(password="a-long-passphrase-1")
    base = f"{live_server.url}/api/v1"
    guest_add = requests.post(f"{base}/cart/items/", json={"product_id": product.pk}, timeout=10)
    session = {"X-Session-ID": guest_add.headers["X-Session-ID"]}
    token = requests.post(
        f"{base}/auth/token/",
        json={"username": user.username, "password": "a-long-passphrase-1"},
        timeout=10,
    )
    answers = {
        "guest add": guest_add,
        "guest cart": requests.get(f"{base}/cart/", headers=session, timeout=10),
        "user cart": requests.get(
            f"{base}/cart/", headers={"Authorization": bearer(user)}, timeout=10
        ),
        "token": token,
        "problem": requests.get(f"{base}/cart/items/", timeout=10),
        "metrics": requests.get(f"{live_server.url}/metrics", timeout=10),
        "staff catalog": requests.get(
            f"{base}/products/", headers={"Authorization": bearer(StaffFactory())}, timeout=10
        ),
    }
    assert token.status_code == 200
    for name, response in answers.items():
        assert response.headers.get("Cache-Control") == PRIVATE, name
        assert {"authorization", "x-session-id"} <= vary(response), name


@pytest.mark.parametrize("path", ["products/", "products/{id}/", "products/?search=shirt"])
def test_a_guest_reads_the_catalog_from_shared_caches(live_server, settings, path):
    settings.CATALOG_CACHE_SECONDS = 120
    product = ProductFactory(name="A shirt")
    url = f"{live_server.url}/api/v1/{path.format(id=product.pk)}"

    first = requests.get(url, timeout=10)

    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=120"
    assert "authorization" in vary(first)
    again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["ETag"] == first.headers["ETag"]
    product.name = "A shirt, renamed"
    product.save()
    changed = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
    assert changed.status_code == 200
    assert changed.headers["ETag"] != first.headers["ETag"]


def test_without_a_catalog_lifetime_the_catalog_is_private_too(live_server, settings):
    settings.CATALOG_CACHE_SECONDS = 0
    ProductFactory()
    response = requests.get(f"{live_server.url}/api/v1/products/", timeout=10)
    assert response.headers["Cache-Control"] == PRIVATE
