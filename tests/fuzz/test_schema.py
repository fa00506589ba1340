"""Schemathesis fuzzes every API operation of a live server against the schema it serves.

The schema is loaded from the running server (`/api/v1/schema/?format=json`) and every
operation gets `FUZZ_EXAMPLES` generated requests (25 here, more under `make fuzz`), valid
and invalid ones, for each identity: a signed-in shopper, a guest without a session, a guest
with the session of a first add, and staff for the staff operations. Every answer must be no
5xx, have a documented status code and content type, and a body (problem details included)
and headers that match the schema.
"""

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
import schemathesis
from django.test import override_settings
from django.utils import timezone
from hypothesis import settings
from schemathesis import checks

from addtocart.api.problems import DomainError
from carts import services
from carts.domain import CartOwner
from carts.guest_sessions import guest_session_verify
from carts.models import Cart, CartItem, CartStatus, SavedItem
from tests.conftest import bearer
from tests.factories import ProductFactory, StaffFactory, UserFactory, cart_owned_by
from tests.fuzz.profiles import FUZZ_EXAMPLES, profile

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, reset_sequences=True)]

SCHEMA_URL = "/api/v1/schema/?format=json"
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
STAFF_PATHS = r"^/api/v1/(products|carts|metrics|discount-codes)/"
SAVED_ITEM_PATH = "/api/v1/saved-items/{id}/"
# Requests sent, by identity and operation, and answers by identity and status code:
# reported at the end of the module.
CALLS: Counter = Counter()
STATUSES: Counter = Counter()


@dataclass
class Identity:
    name: str
    headers: dict[str, str] = field(default_factory=dict)
    owner: CartOwner | None = None  # whose cart the requests change, when it is known


def seed(base_url: str) -> dict[str, Identity]:
    """Products 1 to 5 (plenty of stock, little stock, another currency, not for sale), carts
    in every status (one waiting on its payment), a shopper, staff, and a guest whose first
    add (to the live server) gave it a session."""
    ProductFactory(price=Decimal("10.00"), stock=1_000_000)
    ProductFactory(price=Decimal("2.50"), stock=1_000_000)
    ProductFactory(price=Decimal("99.99"), stock=2)
    ProductFactory(currency="USD", stock=1_000_000)
    ProductFactory(is_active=False)
    shopper, other, idle, staff = UserFactory(), UserFactory(), UserFactory(), StaffFactory()

    services.cart_item_add(owner=CartOwner(user_id=idle.pk), product_id=2)
    services.cart_abandon_idle(now=timezone.now() + timedelta(days=2))
    other_owner = CartOwner(user_id=other.pk)
    services.cart_item_add(owner=other_owner, product_id=1, quantity=3)
    services.cart_checkout(owner=other_owner)
    services.cart_item_add(owner=CartOwner(session_token="seed-guest"), product_id=2)
    services.cart_merge(user_id=other.pk, session_token="seed-guest")
    paying = CartOwner(user_id=UserFactory().pk)
    services.cart_item_add(owner=paying, product_id=1)
    with override_settings(PAYMENT_SERVICE_URL="http://127.0.0.1:9"):  # reserve calls nothing
        services.checkout_reserve(owner=paying, if_match=None, request_key="", service_data=None)

    answer = requests.post(f"{base_url}/api/v1/cart/items/", json={"product_id": 1}, timeout=10)
    assert answer.status_code == 201, answer.text
    session_id = answer.headers["X-Session-ID"]
    guest_token = guest_session_verify(session_id)
    assert set(Cart.objects.values_list("status", flat=True)) == set(CartStatus.values)
    return {
        "user": Identity("user", {"Authorization": bearer(shopper)}, CartOwner(user_id=shopper.pk)),
        "guest": Identity("guest"),
        "guest_session": Identity(
            "guest_session", {"X-Session-ID": session_id}, CartOwner(session_token=guest_token)
        ),
        "staff": Identity("staff", {"Authorization": bearer(staff)}),
    }


def prepare(case, identity: Identity) -> None:
    """Keep something in the caller's cart to change or check out, and point a small
    generated `item_id` (1 to 3) at one of its lines, so real lines are hit as well as
    unknown ones; a signed-in shopper's saved items likewise (`keep_a_saved_item`)."""
    owner = identity.owner
    if owner is None:
        return
    lines = CartItem.objects.filter(
        cart__in=cart_owned_by(owner=owner).filter(status=CartStatus.ACTIVE)
    ).order_by("pk")
    if not lines.exists():
        for product_id in (1, 2):
            with contextlib.suppress(DomainError):
                services.cart_item_add(owner=owner, product_id=product_id)
    item_id = (case.path_parameters or {}).get("item_id")
    if type(item_id) is int and 1 <= item_id <= 3:
        ids = list(lines.values_list("pk", flat=True))
        if ids:
            case.path_parameters["item_id"] = ids[(item_id - 1) % len(ids)]
    if owner.user_id is not None and case.operation.path.startswith(SAVED_ITEM_PATH):
        keep_a_saved_item(case, owner, lines.first())


def keep_a_saved_item(case, owner: CartOwner, line: CartItem | None) -> None:
    """Keep a saved item to move back or delete (saved from the cart's `line`), and point a
    small generated `id` ("1" to "3") at it, so a real item is hit as well as unknown ones."""
    saved = SavedItem.objects.filter(user_id=owner.user_id)
    if not saved.exists() and line is not None:
        with contextlib.suppress(DomainError):
            services.saved_item_save(owner=owner, item_id=line.pk)
    first = saved.values_list("pk", flat=True).first()
    if first and case.path_parameters.get("id") in ("1", "2", "3"):
        case.path_parameters["id"] = str(first)


@pytest.fixture(scope="module", autouse=True)
def _report_calls(request):
    CALLS.clear()
    STATUSES.clear()
    yield
    counts: dict[str, list[int]] = {}
    for (identity, _), count in sorted(CALLS.items()):
        counts.setdefault(identity, []).append(count)
    lines = [f"schemathesis: {sum(CALLS.values())} requests"]
    for identity, n in counts.items():
        statuses = " ".join(
            f"{status}x{count}" for (i, status), count in sorted(STATUSES.items()) if i == identity
        )
        lines.append(f"  {identity}: {len(n)} operations, {min(n)}-{max(n)} each; {statuses}")
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        print("\n" + "\n".join(lines))


def call_and_validate(case, identity: Identity) -> None:
    CALLS[identity.name, case.operation.label] += 1
    response = case.call_and_validate(headers=identity.headers, checks=CHECKS)
    STATUSES[identity.name, response.status_code] += 1


@pytest.fixture
def identities(live_server):
    return seed(live_server.url)


@pytest.fixture
def api_schema(request, live_server, identities):
    # Schemathesis 4.32 names each operation's report through the test node's `_nodeid`,
    # which pytest 9.2 no longer has (it keeps `_id`): give it one so the lazy loader runs.
    request.node._nodeid = request.node.nodeid
    return schemathesis.openapi.from_url(f"{live_server.url}{SCHEMA_URL}")


@pytest.fixture(params=["user", "guest", "guest_session"])
def shopper(request, identities) -> Identity:
    return identities[request.param]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@pytest.mark.usefixtures("shopper")
@settings(parent=profile(), max_examples=FUZZ_EXAMPLES)
def test_every_operation_answers_as_documented_to_shoppers(case, shopper):
    prepare(case, shopper)
    call_and_validate(case, shopper)


@schema.include(path_regex=STAFF_PATHS).parametrize()
@settings(parent=profile(), max_examples=FUZZ_EXAMPLES)
def test_staff_operations_answer_as_documented_to_staff(case, identities):
    call_and_validate(case, identities["staff"])
