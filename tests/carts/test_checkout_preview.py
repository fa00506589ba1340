"""`POST cart/checkout/preview/`: what a checkout would find now, with nothing changed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from carts.models import Cart, CartStatus, DiscountCode, Product
from events.models import Event
from tests.carts.test_queries import count_queries
from tests.factories import DiscountCodeFactory, ProductFactory
from tests.schema import assert_ok, assert_problem

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_breaker")]

ITEMS = "/api/v1/cart/items/"
PREVIEW = "/api/v1/cart/checkout/preview/"
CHECKOUT = "/api/v1/cart/checkout/"


def add(client, product, quantity=1):
    return client.post(ITEMS, {"product_id": product.pk, "quantity": quantity}, format="json")


def everything() -> tuple:
    """What a preview must not change: carts, stock, codes' counters, events."""
    return (
        list(Cart.objects.values_list("id", "status", "version", "total").order_by("id")),
        list(Product.objects.values_list("id", "stock").order_by("id")),
        list(DiscountCode.objects.values_list("id", "times_used", "uses_held").order_by("id")),
        Event.objects.count(),
    )


def test_a_cart_that_would_check_out_previews_ok_with_its_total(user_api):
    product = ProductFactory(price=Decimal("3.33"), stock=10)
    add(user_api, product, 3)
    DiscountCodeFactory(code="TEN")
    shown = assert_ok(user_api.post("/api/v1/cart/discount-codes/", {"code": "ten"}, format="json"))
    before = everything()

    preview = assert_ok(user_api.post(PREVIEW))

    assert preview == {"ok": True, "lines": [], "discounts": [], "total": "8.99"}
    assert preview["total"] == shown["estimated_total"]
    assert everything() == before
    assert assert_ok(user_api.post(CHECKOUT))["total"] == preview["total"]


def test_the_preview_lists_the_faults_checkout_would_refuse(user_api):
    sold_out, dearer = ProductFactory(stock=5), ProductFactory(stock=5)
    add(user_api, sold_out, 2)
    add(user_api, dearer, 1)
    code = DiscountCodeFactory(code="TEN")
    assert_ok(user_api.post("/api/v1/cart/discount-codes/", {"code": "TEN"}, format="json"))
    Product.objects.filter(pk=sold_out.pk).update(stock=1)
    Product.objects.filter(pk=dearer.pk).update(price=dearer.price + 1)
    DiscountCode.objects.filter(pk=code.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    before = everything()

    preview = assert_ok(user_api.post(PREVIEW))

    assert everything() == before
    assert preview["ok"] is False
    refused = assert_problem(user_api.post(CHECKOUT), 409, "checkout_conflict")
    assert (preview["lines"], preview["discounts"]) == (refused["lines"], refused["discounts"])
    assert {fault["reason"] for fault in preview["lines"]} == {
        "insufficient_stock",
        "price_changed",
    }
    assert preview["discounts"] == [{"code": "TEN", "reason": "expired"}]


def test_no_cart_an_empty_one_and_one_being_checked_out_answer_as_checkout_would(
    user_api, owner, settings, fake_services
):
    assert_problem(APIClient().post(PREVIEW), 409, "cart_empty")
    assert_problem(user_api.post(PREVIEW), 409, "cart_empty")
    add(user_api, ProductFactory())
    Cart.objects.filter(user_id=owner.user_id).update(status=CartStatus.CHECKING_OUT)
    assert_problem(user_api.post(PREVIEW), 409, "checkout_in_progress")


@pytest.mark.parametrize("lines", [1, 20])
def test_the_preview_makes_a_fixed_number_of_queries(user_api, lines):
    """The account still active, then the cart's lines with their products and cart."""
    for product in ProductFactory.create_batch(lines):
        add(user_api, product)
    assert count_queries(lambda: user_api.post(PREVIEW)) == 2
