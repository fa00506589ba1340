"""A shopper's discount codes through the HTTP API: applying, removing, the cart document's
figures, each reason a code does not apply, and checkout charging what was shown."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from carts.models import (
    AttemptStatus,
    Cart,
    CartDiscount,
    CartStatus,
    CheckoutAttempt,
    DiscountCode,
    Product,
)
from events.models import Event, EventType
from tests.conftest import bearer
from tests.factories import DiscountCodeFactory, ProductFactory, UserFactory
from tests.schema import assert_ok, assert_problem

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_breaker")]

CART = "/api/v1/cart/"
ITEMS = "/api/v1/cart/items/"
CODES = "/api/v1/cart/discount-codes/"
CHECKOUT = "/api/v1/cart/checkout/"
APPROVED = (201, {"status": "approved", "id": "auth-1"})


def add(client, product, quantity=1, **headers):
    body = {"product_id": product.pk, "quantity": quantity}
    return client.post(ITEMS, body, format="json", headers=headers)


def apply(client, code, **headers):
    return client.post(CODES, {"code": code}, format="json", headers=headers)


def money(text: str) -> Decimal:
    return Decimal(text)


def assert_figures_add_up(body: dict) -> None:
    """The lines' discounts add up to discount_total; estimated_total is what is left."""
    shares = sum((money(line["discount"]) for line in body["items"]), Decimal("0.00"))
    assert shares == money(body["discount_total"])
    assert sum((money(code["amount"]) for code in body["discounts"]), Decimal("0")) == shares
    expected = max(money(body["subtotal"]) - shares, Decimal("0.00"))
    assert money(body["estimated_total"]) == expected


@pytest.fixture
def shopper():
    user = UserFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(user))
    return client, user


@pytest.fixture
def priced():
    """Three products at 3.33, 3.33 and 3.34: 10 % of them leaves a cent to place."""
    return [ProductFactory(price=Decimal(price), stock=100) for price in ("3.33", "3.33", "3.34")]


def test_a_percentage_code_discounts_each_line_and_the_cents_add_up(shopper, priced):
    client, _ = shopper
    for product in priced:
        add(client, product)
    DiscountCodeFactory(code="save10")

    body = assert_ok(apply(client, "SAVE10"))  # any case

    assert body["discounts"] == [
        {
            "code": "save10",
            "kind": "percentage",
            "value": "10.00",
            "amount": "1.00",
            "applicable": True,
            "reason": None,
        }
    ]
    assert [line["discount"] for line in body["items"]] == ["0.33", "0.33", "0.34"]
    assert (body["subtotal"], body["discount_total"], body["estimated_total"]) == (
        "10.00",
        "1.00",
        "9.00",
    )
    assert_figures_add_up(body)
    # GET cart/ shows the same document (PostgreSQL writes carts without codes itself).
    assert assert_ok(client.get(CART)) == body


def test_a_fixed_amount_never_takes_off_more_than_the_eligible_lines(shopper, priced):
    client, _ = shopper
    cheap, other, _ = priced
    add(client, cheap)
    add(client, other, 2)
    DiscountCodeFactory(
        code="TENOFF", kind="fixed_amount", value=Decimal("10"), currency="EUR", products=[cheap]
    )

    body = assert_ok(apply(client, "tenoff"))

    assert body["discount_total"] == "3.33"
    assert {line["product"]["id"]: line["discount"] for line in body["items"]} == {
        cheap.pk: "3.33",
        other.pk: "0.00",
    }
    assert_figures_add_up(body)


def test_applying_a_code_already_on_the_cart_changes_nothing(shopper, product):
    client, _ = shopper
    add(client, product)
    DiscountCodeFactory(code="SAVE10")
    first = assert_ok(apply(client, "SAVE10"))
    again = assert_ok(apply(client, "save10"))
    assert again["version"] == first["version"]
    assert len(again["discounts"]) == 1


NOW = timezone.now()
REFUSALS = {
    "not_found": ({"is_active": False}, {}),
    "not_started": ({"starts_at": NOW + timedelta(days=1)}, {}),
    "expired": ({"ends_at": NOW - timedelta(seconds=1)}, {}),
    "usage_limit_reached": ({"max_uses": 3, "times_used": 2, "uses_held": 1}, {}),
    "min_subtotal_not_met": ({"min_subtotal": Decimal("1000")}, {"min_subtotal": "1000.00"}),
    "currency_mismatch": ({"kind": "fixed_amount", "value": 5, "currency": "USD"}, {}),
}


@pytest.mark.parametrize("reason", REFUSALS)
def test_a_code_that_cannot_apply_is_refused_with_its_reason(shopper, product, reason):
    client, _ = shopper
    cart = add(client, product).json()
    terms, extra = REFUSALS[reason]
    DiscountCodeFactory(code="SAVE10", **terms)

    problem = assert_problem(apply(client, "SAVE10"), 422, "discount_code_invalid")

    assert problem["reason"] == reason
    assert {key: problem[key] for key in extra} == extra
    after = client.get(CART).json()
    assert (after["version"], after["discounts"]) == (cart["version"], [])


def test_an_unknown_code_and_an_inactive_one_answer_alike(shopper, product):
    client, _ = shopper
    add(client, product)
    DiscountCodeFactory(code="OFF", is_active=False)
    unknown = assert_problem(apply(client, "NOPE"), 422, "discount_code_invalid")
    inactive = assert_problem(apply(client, "OFF"), 422, "discount_code_invalid")
    assert unknown["reason"] == inactive["reason"] == "not_found"


def test_a_code_for_other_products_is_not_applicable(shopper, product):
    client, _ = shopper
    add(client, product)
    DiscountCodeFactory(code="SAVE10", products=[ProductFactory()])
    assert assert_problem(apply(client, "SAVE10"), 422)["reason"] == "not_applicable"


def test_a_code_to_an_empty_cart_is_not_applicable_and_opens_no_cart(shopper):
    client, user = shopper
    DiscountCodeFactory(code="SAVE10")
    assert assert_problem(apply(client, "SAVE10"), 422)["reason"] == "not_applicable"
    assert not Cart.objects.filter(user=user).exists()


def test_a_code_limited_per_customer_needs_a_signed_in_shopper_and_counts_their_uses(
    shopper, product
):
    DiscountCodeFactory(code="SAVE10", max_uses_per_customer=1)
    guest = APIClient()
    session = add(guest, product)["X-Session-ID"]
    refused = apply(guest, "SAVE10", **{"X-Session-ID": session})
    assert assert_problem(refused, 422)["reason"] == "sign_in_required"

    client, _ = shopper
    add(client, product)
    assert_ok(apply(client, "SAVE10"))
    assert_ok(client.post(CHECKOUT))
    add(client, product)
    assert assert_problem(apply(client, "SAVE10"), 422)["reason"] == "usage_limit_reached"


def test_a_cart_holds_at_most_its_number_of_codes(shopper, priced, settings):
    client, _ = shopper
    add(client, priced[0], 3)
    DiscountCodeFactory(code="A")
    DiscountCodeFactory(code="B", kind="fixed_amount", value=Decimal("5"), currency="EUR")
    assert_ok(apply(client, "A"))
    problem = assert_problem(apply(client, "B"), 409, "discount_codes_limit")
    assert problem["max_discount_codes"] == 1

    settings.CART_MAX_DISCOUNT_CODES = 2
    body = assert_ok(apply(client, "B"))
    # 10 % of 9.99 is 1.00; then 5.00 off the 8.99 left.
    assert [code["amount"] for code in body["discounts"]] == ["1.00", "5.00"]
    assert body["estimated_total"] == "3.99"
    assert_figures_add_up(body)


def test_removing_a_code(shopper, product):
    client, _ = shopper
    add(client, product)
    DiscountCodeFactory(code="SAVE10")
    applied = assert_ok(apply(client, "SAVE10"))
    body = assert_ok(client.delete(f"{CODES}save10/"))
    assert body["discounts"] == []
    assert body["discount_total"] == "0.00"
    assert body["version"] == applied["version"] + 1
    assert body["estimated_total"] == body["subtotal"]
    assert_problem(client.delete(f"{CODES}SAVE10/"), 404, "cart_discount_not_found")
    assert Cart.objects.get(pk=body["id"]).discount_count == 0


def test_a_code_stays_on_a_cart_that_stops_qualifying_and_applies_again(shopper, priced):
    client, _ = shopper
    first, second, _ = priced
    add(client, first)
    line = add(client, second).json()["items"][1]["id"]
    DiscountCodeFactory(code="SAVE10", min_subtotal=Decimal("6.00"))
    assert_ok(apply(client, "SAVE10"))

    body = assert_ok(client.delete(f"{ITEMS}{line}/"))
    [code] = body["discounts"]
    assert (code["applicable"], code["reason"], code["amount"]) == (
        False,
        "min_subtotal_not_met",
        "0.00",
    )
    assert code["min_subtotal"] == "6.00"
    assert body["discount_total"] == "0.00"
    assert body["items"][0]["discount"] == "0.00"
    assert assert_ok(client.get(CART)) == body

    body = assert_ok(add(client, second), 201)
    assert body["discounts"][0]["applicable"] is True
    assert body["discount_total"] == "0.67"
    assert_figures_add_up(body)


def test_applying_is_idempotent_and_honours_if_match(shopper, product):
    client, _ = shopper
    cart = add(client, product)
    DiscountCodeFactory(code="SAVE10")
    assert_problem(apply(client, "SAVE10", **{"If-Match": '"stale.1"'}), 412)
    first = apply(client, "SAVE10", **{"If-Match": cart["ETag"], "Idempotency-Key": "k1"})
    replay = apply(client, "SAVE10", **{"Idempotency-Key": "k1"})
    assert first.json() == replay.json()
    assert replay["ETag"] == first["ETag"]
    assert CartDiscount.objects.count() == 1


def test_code_attempts_are_rate_limited_per_shopper(shopper, product, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "discount_code": "3/min",
        },
    }
    client, _ = shopper
    add(client, product)
    answers = [apply(client, f"GUESS{n}").status_code for n in range(4)]
    assert answers == [422, 422, 422, 429]
    limited = apply(client, "GUESS9")
    assert int(limited["Retry-After"]) >= 1
    assert add(client, product).status_code == 201  # other cart changes go on


def test_checkout_charges_what_the_cart_showed(shopper, priced, payments):
    payments.answers[("POST", "/payments")] = APPROVED
    client, _ = shopper
    for product in priced:
        add(client, product, 2)
    code = DiscountCodeFactory(code="SAVE10", max_uses=10)
    shown = assert_ok(apply(client, "SAVE10"))

    body = assert_ok(client.post(CHECKOUT))

    assert body["total"] == shown["estimated_total"] == "18.00"
    assert body["discounts"] == shown["discounts"]
    [(_, _, request)] = [r for r in payments.requests if r[:2] == ("POST", "/payments")]
    assert request["amount"] == "18.00"
    code.refresh_from_db()
    assert (code.times_used, code.uses_held, code.discounted_total) == (1, 0, Decimal("2.00"))
    attempt = CheckoutAttempt.objects.get()
    assert attempt.total == Decimal("18.00")


def test_a_checked_out_cart_keeps_what_it_was_charged_when_the_code_changes(
    shopper, priced, staff_api
):
    client, _user = shopper
    add(client, priced[0], 3)
    code = DiscountCodeFactory(code="SAVE10")
    assert_ok(apply(client, "SAVE10"))
    done = assert_ok(client.post(CHECKOUT))
    DiscountCode.objects.filter(pk=code.pk).update(value=50, is_active=False)

    staff_view = assert_ok(staff_api.get(f"/api/v1/carts/{done['id']}/"))

    for key in ("discounts", "discount_total", "estimated_total", "items", "total"):
        assert staff_view[key] == done[key]
    event = Event.objects.get(type=EventType.CHECKED_OUT)
    assert event.data["cart"]["discounts"] == done["discounts"]
    assert event.data["cart"]["items"][0]["discount"] == "1.00"


def test_checkout_refuses_a_code_that_no_longer_applies_and_changes_nothing(shopper, product):
    client, _ = shopper
    add(client, product, 2)
    code = DiscountCodeFactory(code="SAVE10")
    assert_ok(apply(client, "SAVE10"))
    DiscountCode.objects.filter(pk=code.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    stock = Product.objects.get(pk=product.pk).stock

    problem = assert_problem(client.post(CHECKOUT), 409, "checkout_conflict")

    assert problem["discounts"] == [{"code": "SAVE10", "reason": "expired"}]
    assert problem["lines"] == []
    assert Product.objects.get(pk=product.pk).stock == stock
    code.refresh_from_db()
    assert (code.times_used, code.uses_held) == (0, 0)
    assert Cart.objects.get().status == CartStatus.ACTIVE
    failed = Event.objects.get(type=EventType.CHECKOUT_FAILED)
    assert failed.data["discounts"] == problem["discounts"]


def test_checkout_refuses_a_code_whose_uses_ran_out_meanwhile(shopper, product):
    client, _ = shopper
    add(client, product)
    code = DiscountCodeFactory(code="SAVE10", max_uses=1)
    assert_ok(apply(client, "SAVE10"))
    DiscountCode.objects.filter(pk=code.pk).update(times_used=1)
    problem = assert_problem(client.post(CHECKOUT), 409, "checkout_conflict")
    assert problem["discounts"] == [{"code": "SAVE10", "reason": "usage_limit_reached"}]


def test_a_refused_payment_uses_no_code(shopper, product, payments):
    payments.answers[("POST", "/payments")] = (402, {"status": "declined"})
    client, _ = shopper
    add(client, product)
    code = DiscountCodeFactory(code="SAVE10", max_uses=1)
    applied = assert_ok(apply(client, "SAVE10"))
    assert client.post(CHECKOUT).status_code == 402
    code.refresh_from_db()
    assert (code.times_used, code.uses_held, code.discounted_total) == (0, 0, 0)
    after = assert_ok(client.get(CART))
    assert after["discounts"] == applied["discounts"]
    assert CheckoutAttempt.objects.get().status == AttemptStatus.RELEASED


def test_a_cart_made_free_by_its_code_is_not_sent_to_the_payment_service(
    shopper, product, payments
):
    client, _ = shopper
    add(client, product)
    DiscountCodeFactory(code="SAVE10", value=Decimal("100"))
    assert_ok(apply(client, "SAVE10"))
    body = assert_ok(client.post(CHECKOUT))
    assert (body["status"], body["total"]) == ("checked_out", "0.00")
    assert payments.calls("POST", "/payments") == 0


def test_a_guests_code_joins_the_users_cart_on_merge(shopper, product):
    DiscountCodeFactory(code="SAVE10")
    guest = APIClient()
    session = add(guest, product)["X-Session-ID"]
    assert_ok(apply(guest, "SAVE10", **{"X-Session-ID": session}))
    client, _ = shopper
    merged = client.post("/api/v1/cart/merge/", headers={"X-Session-ID": session})
    body = assert_ok(merged)
    assert [code["code"] for code in body["discounts"]] == ["SAVE10"]
    assert Cart.objects.get(pk=body["id"]).discount_count == 1
    assert Cart.objects.get(status=CartStatus.MERGED).discount_count == 0
