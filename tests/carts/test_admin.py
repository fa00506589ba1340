"""The Django admin: catalog editing, read-only carts, the CSV export, users with their carts,
and fixed query counts per page."""

import csv
import io
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from carts.admin import csv_cell
from carts.guest_sessions import guest_session_hash, guest_session_sign
from carts.models import Cart, CartStatus, Product
from tests.factories import CartFactory, CartItemFactory, ProductFactory, UserFactory

PRODUCTS = "/admin/carts/product/"
CARTS = "/admin/carts/cart/"
USERS = "/admin/auth/user/"


@pytest.fixture
def web(db):
    """The Django test client, signed in as a superuser."""
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def row_cells(response, key: str) -> dict[str, str]:
    """The text of each column (`field-<name>` cells) of the one changelist row holding `key`."""
    html = response.content.decode()
    body = html[html.index('id="result_list"') :]
    rows = [row for row in body.split("<tr")[2:] if key in row]
    assert len(rows) == 1, f"{len(rows)} rows hold {key!r}"
    cells = re.findall(r'<t[dh] class="field-(\w+)[^"]*"[^>]*>(.*?)</t[dh]>', rows[0], re.S)
    return {name: re.sub(r"<[^>]+>", "", text).strip() for name, text in cells}


def listed(response) -> set:
    assert response.status_code == 200, response.status_code
    return {obj.pk for obj in response.context["cl"].result_list}


def flashed(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# Products


@pytest.fixture
def catalog(db):
    return {
        "shirt": ProductFactory(sku="TS-RED-M", name="Red shirt", stock=0),
        "mug": ProductFactory(sku="MUG-01", name="Blue mug", stock=5, currency="USD"),
        "cap": ProductFactory(sku="CAP-01", name="Cap", stock=50, is_active=False),
    }


def test_product_list_shows_the_catalog_columns(web, catalog):
    response = web.get(PRODUCTS)
    assert response.status_code == 200
    cells = row_cells(response, "MUG-01")
    assert cells["sku"] == "MUG-01"
    assert cells["name"] == "Blue mug"
    assert cells["price"] == "10.00"
    assert cells["currency"] == "USD"
    assert {"stock", "is_active", "updated_at"} <= cells.keys()
    html = response.content.decode()
    assert 'name="form-0-stock"' in html  # editable in the list
    assert 'name="initial-form-0-stock"' in html  # with the value the page was rendered with


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=mug-0", {"mug"}),
        ("q=shirt", {"shirt"}),
        ("q=-01", {"mug", "cap"}),
        ("is_active__exact=0", {"cap"}),
        ("is_active__exact=1", {"shirt", "mug"}),
        ("currency=USD", {"mug"}),
        ("currency__exact=USD", {"mug"}),
        ("stock_level=out", {"shirt"}),
        ("stock_level=low", {"mug"}),
        ("stock_level=in", {"cap"}),
    ],
)
def test_product_search_and_filters(web, catalog, query, expected):
    assert listed(web.get(f"{PRODUCTS}?{query}")) == {catalog[name].pk for name in expected}


def list_edit(
    web, product: Product, *, stock, is_active: bool, shown_stock=None, path: str = PRODUCTS
):
    """Save one row of the editable product list (at `path`: filters, ordering), as the page
    rendered at `shown_stock`."""
    shown_stock = product.stock if shown_stock is None else shown_stock
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(product.pk),
        "form-0-stock": str(stock),
        "initial-form-0-stock": str(shown_stock),
        "initial-form-0-is_active": str(product.is_active),
        "_save": "Save",
    }
    if is_active:
        data["form-0-is_active"] = "on"
    return web.post(path, data)


def test_list_editable_saves_stock_and_active(web, catalog):
    mug = catalog["mug"]
    response = list_edit(web, mug, stock=42, is_active=False)
    assert response.status_code == 302
    mug.refresh_from_db()
    assert (mug.stock, mug.is_active) == (42, False)


def test_list_editable_refuses_negative_stock_with_a_form_error(web, catalog):
    mug = catalog["mug"]
    response = list_edit(web, mug, stock=-1, is_active=True)
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 0." in response.content.decode()
    mug.refresh_from_db()
    assert mug.stock == 5


def test_list_editable_keeps_stock_a_checkout_took_since_the_page_was_shown(web, catalog):
    mug = catalog["mug"]
    Product.objects.filter(pk=mug.pk).update(stock=2)  # a checkout took 3 meanwhile
    response = list_edit(web, mug, stock=5, shown_stock=5, is_active=False)
    assert response.status_code == 302
    mug.refresh_from_db()
    assert (mug.stock, mug.is_active) == (2, False)


def product_form(product: Product | None = None, **changes) -> dict:
    values = {"sku": "NEW-1", "name": "New", "price": "1.00", "currency": "EUR", "stock": "3"}
    if product is not None:
        values = {f: str(getattr(product, f)) for f in ["sku", "name", "price", "currency"]}
        values["stock"] = str(product.stock)
        values["is_active"] = "on" if product.is_active else ""
        values.update({f"initial-{name}": value for name, value in values.items()})
        values["initial-is_active"] = str(product.is_active)
    values.update(changes)
    return {name: value for name, value in values.items() if value != ""}


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"stock": "-5"}, "Ensure this value is greater than or equal to 0."),
        ({"price": "-1.00"}, "Ensure this value is greater than or equal to 0."),
        ({"sku": "TS-RED-M"}, "Product with this Sku already exists."),
        ({"currency": "eur"}, "Use a three-letter ISO 4217 code."),
        ({"stock": "99999999999"}, "Ensure this value is less than or equal to"),
    ],
)
def test_product_change_form_shows_errors_not_a_500(web, catalog, changes, error):
    mug = catalog["mug"]
    response = web.post(f"{PRODUCTS}{mug.pk}/change/", product_form(mug, **changes))
    assert response.status_code == 200
    assert error in response.content.decode()
    mug.refresh_from_db()
    assert (mug.sku, mug.stock, mug.price) == ("MUG-01", 5, Decimal("10.00"))


def test_product_add_form_refuses_a_duplicate_sku(web, catalog):
    response = web.post(f"{PRODUCTS}add/", product_form(sku="MUG-01"))
    assert response.status_code == 200
    assert "Product with this Sku already exists." in response.content.decode()
    assert Product.objects.filter(sku="MUG-01").count() == 1


def test_product_add_form_creates_a_product(web, db):
    response = web.post(f"{PRODUCTS}add/", product_form(is_active="on"))
    assert response.status_code == 302
    product = Product.objects.get(sku="NEW-1")
    assert (product.name, product.stock, product.is_active) == ("New", 3, True)


def test_product_change_form_writes_only_what_staff_changed(web, catalog):
    mug = catalog["mug"]
    assert 'name="initial-stock"' in web.get(f"{PRODUCTS}{mug.pk}/change/").content.decode()
    form = product_form(mug, name="Big blue mug")  # rendered at stock 5
    Product.objects.filter(pk=mug.pk).update(stock=1)  # a checkout took 4 meanwhile
    response = web.post(f"{PRODUCTS}{mug.pk}/change/", form)
    assert response.status_code == 302
    mug.refresh_from_db()
    assert (mug.name, mug.stock) == ("Big blue mug", 1)


def test_a_product_in_a_cart_cannot_be_deleted(web, catalog):
    mug = catalog["mug"]
    CartItemFactory(product=mug)
    response = web.post(f"{PRODUCTS}{mug.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200
    assert "protected related objects" in response.content.decode()
    response = web.post(
        PRODUCTS, {"action": "delete_selected", "_selected_action": [mug.pk], "post": "yes"}
    )
    assert response.status_code == 200
    assert Product.objects.filter(pk=mug.pk).exists()


@pytest.mark.parametrize(
    ("action", "message", "active"),
    [
        ("deactivate", "2 products deactivated.", {"shirt": False, "mug": False, "cap": False}),
        ("activate", "1 product activated.", {"shirt": True, "mug": True, "cap": True}),
    ],
)
def test_bulk_activate_and_deactivate(web, catalog, action, message, active):
    selected = [product.pk for product in catalog.values()]
    response = web.post(PRODUCTS, {"action": action, "_selected_action": selected, "index": "0"})
    assert response.status_code == 302
    assert flashed(response) == [message]
    states = dict(Product.objects.values_list("sku", "is_active"))
    assert {name: states[product.sku] for name, product in catalog.items()} == active


def test_bulk_action_changes_only_the_selected_products(web, catalog):
    web.post(PRODUCTS, {"action": "deactivate", "_selected_action": [catalog["mug"].pk]})
    assert set(Product.objects.filter(is_active=False).values_list("sku", flat=True)) == {
        "MUG-01",
        "CAP-01",
    }


# Products: demand against stock (carts/demand.py)


def holding(status: str, *lines: tuple[Product, int, dict]):
    """A cart of `status` holding `lines` (product, quantity, attributes)."""
    cart = CartFactory(status=status, first_item_added_at=timezone.now())
    for product, quantity, attributes in lines:
        CartItemFactory(cart=cart, product=product, quantity=quantity, attributes=attributes)
    return cart


@pytest.fixture
def demand(catalog):
    """MUG-01: 4 + 3 (one cart, two colours) + 1 in active carts, 2 carts, stock 5: short by 3;
    TS-RED-M: 1 in an active cart, stock 0: short by 1; PEN-01: 2, stock 2, not short;
    CAP-01: in an abandoned cart only (and 10 more mugs in a cart being checked out): 0,
    stock 50."""
    shirt, mug, cap = catalog["shirt"], catalog["mug"], catalog["cap"]
    pen = ProductFactory(sku="PEN-01", name="Pen", stock=2)
    holding(
        CartStatus.ACTIVE,
        (mug, 4, {"colour": "blue"}),
        (mug, 3, {"colour": "red"}),
        (shirt, 1, {}),
        (pen, 2, {}),
    )
    holding(CartStatus.ACTIVE, (mug, 1, {}))
    holding(CartStatus.CHECKING_OUT, (mug, 10, {}))
    holding(CartStatus.ABANDONED, (cap, 2, {}))
    return catalog


def test_product_list_shows_units_in_carts_carts_and_shortfall(web, demand):
    response = web.get(PRODUCTS)
    cells = {sku: row_cells(response, sku) for sku in ("MUG-01", "TS-RED-M", "PEN-01", "CAP-01")}
    figures = {sku: (c["in_carts"], c["carts"], c["short_by"]) for sku, c in cells.items()}
    assert figures == {
        "MUG-01": ("8", "2", "3"),
        "TS-RED-M": ("1", "1", "1"),
        "PEN-01": ("2", "1", "-"),
        "CAP-01": ("0", "0", "-"),
    }
    html = response.content.decode()
    for column, title in (("in_carts", "In carts"), ("carts", "Carts"), ("short_by", "Short by")):
        header = re.search(
            rf'<th scope="col" class="([^"]*column-{column}[^"]*)">(.*?)</th>', html, re.S
        )
        assert "sortable" in header[1]
        assert title in header[2]


def test_product_list_filters_products_whose_demand_exceeds_their_stock(web, demand):
    response = web.get(f"{PRODUCTS}?demand=exceeds_stock")
    assert listed(response) == {demand["mug"].pk, demand["shirt"].pk}
    assert "Demand exceeds stock" in response.content.decode()
    assert listed(web.get(f"{PRODUCTS}?demand=exceeds_stock&q=mug")) == {demand["mug"].pk}


# Columns of the list, counted from 1 (0 is the selection box): ?o=-6 sorts by units in carts.
IN_CARTS, CARTS_HOLDING, SHORT_BY = 6, 7, 8


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (f"-{IN_CARTS}", ["MUG-01", "PEN-01", "TS-RED-M", "CAP-01"]),
        (f"{CARTS_HOLDING}.1", ["CAP-01", "PEN-01", "TS-RED-M", "MUG-01"]),  # then by SKU
        (f"{SHORT_BY}", ["CAP-01", "PEN-01", "TS-RED-M", "MUG-01"]),  # -50, 0, 1, 3
        (f"-{SHORT_BY}", ["MUG-01", "TS-RED-M", "PEN-01", "CAP-01"]),
    ],
)
def test_product_list_sorts_by_demand(web, demand, order, expected):
    response = web.get(f"{PRODUCTS}?o={order}")
    assert response.status_code == 200
    assert [product.sku for product in response.context["cl"].result_list] == expected


def test_stock_raised_in_the_list_takes_a_product_out_of_the_shortfall_filter(web, demand):
    shirt = demand["shirt"]
    response = list_edit(
        web, shirt, stock=1, is_active=True, path=f"{PRODUCTS}?demand=exceeds_stock"
    )
    assert response.status_code == 302, response.context and response.context["cl"].formset.errors
    shirt.refresh_from_db()
    assert shirt.stock == 1
    assert listed(web.get(f"{PRODUCTS}?demand=exceeds_stock")) == {demand["mug"].pk}
    assert row_cells(web.get(PRODUCTS), "TS-RED-M")["short_by"] == "-"


# Carts


@pytest.fixture
def carts(db):
    """A user's cart with two lines, a guest's with one, and the user's older, empty one."""
    # A name with a letter no hexadecimal id has: searching it cannot also find a cart whose
    # random id happens to hold it.
    ada = UserFactory(username="adah", email="ada.lovelace@example.com")
    shirt = ProductFactory(price=Decimal("25.00"))
    mug = ProductFactory(price=Decimal("5.00"))
    user_cart = CartFactory(user=ada)
    CartItemFactory(cart=user_cart, product=shirt, quantity=2, unit_price=Decimal("19.90"))
    CartItemFactory(cart=user_cart, product=mug, quantity=3, unit_price=Decimal("5.00"))
    guest_cart = CartFactory(user=None, session_id=guest_session_hash("guest-token-123"))
    CartItemFactory(cart=guest_cart, product=mug, quantity=1, unit_price=Decimal("7.50"))
    long_ago = timezone.now() - timedelta(days=400)
    old_cart = CartFactory(
        user=ada,
        status=CartStatus.CHECKED_OUT,
        total=Decimal("0.00"),
        checked_out_at=long_ago,
        created_at=long_ago,
        updated_at=long_ago,
    )
    return {"user": user_cart, "guest": guest_cart, "old": old_cart, "ada": ada}


def test_cart_list_shows_owner_and_figures(web, carts):
    response = web.get(CARTS)
    assert response.status_code == 200
    user_row = row_cells(response, str(carts["user"].pk))
    assert user_row["cart"] == str(carts["user"].pk)[:8]  # the whole id is in its link
    assert (user_row["owner"], user_row["status"]) == ("adah", "Active")
    assert (user_row["lines"], user_row["total_quantity"]) == ("2", "5")
    assert user_row["subtotal"] == "54.80 EUR"
    assert user_row["last_activity"].endswith(" UTC")
    assert user_row["created"].endswith(" UTC")
    guest_row = row_cells(response, str(carts["guest"].pk))
    assert (guest_row["owner"], guest_row["lines"], guest_row["total_quantity"]) == (
        "guest",
        "1",
        "1",
    )
    assert guest_row["subtotal"] == "7.50 EUR"
    old_row = row_cells(response, str(carts["old"].pk))
    assert (old_row["status"], old_row["lines"], old_row["subtotal"]) == (
        "Checked out",
        "0",
        "0.00 EUR",
    )


def test_cart_list_sorts_by_its_figures(web, carts):
    response = web.get(f"{CARTS}?o=-6")  # subtotal, highest first
    assert [cart.pk for cart in response.context["cl"].result_list] == [
        carts["user"].pk,
        carts["guest"].pk,
        carts["old"].pk,
    ]


def search_terms(carts) -> list[tuple[str, str, set[str]]]:
    user_id, guest_id = str(carts["user"].pk), str(carts["guest"].pk)
    return [
        ("user name", "adah", {"user", "old"}),
        ("email", "lovelace@EXAMPLE", {"user", "old"}),
        ("stored session digest", guest_session_hash("guest-token-123")[:12], {"guest"}),
        ("signed session id", guest_session_sign("guest-token-123"), {"guest"}),
        ("whole cart id", user_id, {"user"}),
        ("whole cart id, upper case, blanks", f"  {user_id.upper()} ", {"user"}),
        ("whole cart id, hex only", carts["user"].pk.hex, {"user"}),
        ("partial cart id", guest_id[:8], {"guest"}),
        ("partial cart id across a dash", guest_id[6:13], {"guest"}),
    ]


def test_cart_search(web, carts):
    for label, term, expected in search_terms(carts):
        found = listed(web.get(CARTS, {"q": term}))
        assert found == {carts[name].pk for name in expected}, label


@pytest.mark.parametrize(
    "term", ["%", "_", '"; drop table', "0" * 40, "1234-", "{", "x" * 500, "a:b", "ada:forged"]
)
def test_cart_search_with_odd_text_finds_nothing(web, carts, term):
    assert listed(web.get(CARTS, {"q": term})) == set()


@pytest.mark.parametrize("term", ["'", '""', "\x00", "zz\x00zz", "'unclosed"])
def test_cart_search_with_odd_text_does_not_fail(web, carts, term):
    assert web.get(CARTS, {"q": term}).status_code == 200


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status__exact": "checked_out"}, {"old"}),
        ({"status__exact": "active"}, {"user", "guest"}),
        ({"owner": "guest"}, {"guest"}),
        ({"owner": "user"}, {"user", "old"}),
        ({"created_at__gte": "since"}, {"user", "guest"}),
    ],
)
def test_cart_filters(web, carts, query, expected):
    since = (timezone.now() - timedelta(days=7)).isoformat()
    query = {name: since if value == "since" else value for name, value in query.items()}
    assert listed(web.get(CARTS, query)) == {carts[name].pk for name in expected}


def test_cart_list_filtered_by_user_as_the_users_link_does(web, carts):
    found = listed(web.get(f"{CARTS}?user__id__exact={carts['ada'].pk}"))
    assert found == {carts["user"].pk, carts["old"].pk}


def test_cart_change_page_is_view_only(web, carts):
    cart = carts["user"]
    response = web.get(f"{CARTS}{cart.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="_save"' not in html
    assert "deletelink" not in html
    assert "add-row" not in html
    assert 'name="items-0-quantity"' not in html
    line = cart.items.get(quantity=2)
    assert str(line.product) in html
    assert "39.80" in html  # the line total
    assert "54.80 EUR" in html  # the subtotal


def test_cart_change_page_shows_each_lines_attributes_escaped(web, carts):
    cart = carts["user"]
    cart.items.filter(quantity=2).update(attributes={"size": "M", "engraving": "<b>Ada</b>"})
    html = web.get(f"{CARTS}{cart.pk}/change/").content.decode()
    assert "engraving: &lt;b&gt;Ada&lt;/b&gt;; size: M" in html
    assert "<b>Ada</b>" not in html


def test_cart_change_page_refuses_changes(web, carts):
    cart = carts["user"]
    response = web.post(
        f"{CARTS}{cart.pk}/change/",
        {
            "status": "abandoned",
            "cartitem_set-TOTAL_FORMS": "0",
            "cartitem_set-INITIAL_FORMS": "0",
            "_save": "Save",
        },
    )
    assert response.status_code == 403
    cart.refresh_from_db()
    assert (cart.status, cart.items.count()) == (CartStatus.ACTIVE, 2)


def test_carts_cannot_be_added_or_deleted(web, carts):
    cart = carts["guest"]
    assert web.get(f"{CARTS}add/").status_code == 403
    assert web.get(f"{CARTS}{cart.pk}/delete/").status_code == 403
    assert web.post(f"{CARTS}{cart.pk}/delete/", {"post": "yes"}).status_code == 403
    response = web.post(CARTS, {"action": "delete_selected", "_selected_action": [cart.pk]})
    assert Cart.objects.filter(pk=cart.pk).exists()
    assert response.status_code in (200, 302)
    html = web.get(CARTS).content.decode()
    assert 'value="export_csv"' in html
    assert 'value="delete_selected"' not in html
    assert f'href="{CARTS}add/"' not in html


# CSV export


def export(client, carts=None, **extra):
    data = {"action": "export_csv", "index": "0", **extra}
    if carts is not None:
        data["_selected_action"] = [str(cart.pk) for cart in carts]
    response = client.post(CARTS, data)
    assert response.status_code == 200, response.status_code
    text = b"".join(response.streaming_content).decode()
    return response, list(csv.reader(io.StringIO(text)))


def test_csv_export_has_one_row_per_selected_cart(web, carts):
    response, rows = export(web, [carts["user"], carts["guest"], carts["old"]])
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="carts-\d{8}-\d{6}\.csv"', response["Content-Disposition"]
    )
    assert rows[0] == [
        "id",
        "owner",
        "status",
        "lines",
        "total_quantity",
        "subtotal",
        "currency",
        "created_at",
        "updated_at",
        "checked_out_at",
        "total",
    ]
    by_id = {row[0]: row for row in rows[1:]}
    assert len(rows) == 4
    user_cart = carts["user"]
    assert by_id[str(user_cart.pk)] == [
        str(user_cart.pk),
        "adah",
        "active",
        "2",
        "5",
        "54.80",
        "EUR",
        user_cart.created_at.isoformat(),
        user_cart.updated_at.isoformat(),
        "",
        "",
    ]
    assert by_id[str(carts["guest"].pk)][1:7] == ["guest", "active", "1", "1", "7.50", "EUR"]
    old = by_id[str(carts["old"].pk)]
    assert old[2:6] == ["checked_out", "0", "0", "0.00"]
    assert (old[9], old[10]) == (carts["old"].checked_out_at.isoformat(), "0.00")


def test_csv_export_of_every_matching_cart(web, carts):
    _, rows = export(web, [carts["guest"]], select_across="1")
    assert len(rows) == 4
    response = web.post(
        f"{CARTS}?owner=guest",
        {
            "action": "export_csv",
            "index": "0",
            "select_across": "1",
            "_selected_action": [carts["guest"].pk],
        },
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row[0] for row in rows[1:]] == [str(carts["guest"].pk)]


@pytest.mark.parametrize(
    "username", ['=HYPERLINK("http://evil.example","x")', "+1+2", "-2+3", "@SUM(A1)"]
)
def test_csv_export_neutralises_formulas(web, db, username):
    cart = CartFactory(user=UserFactory(username=username))
    _, rows = export(web, [cart])
    assert rows[1][1] == "'" + username


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (None, ""),
        (Decimal("1.50"), "1.50"),
    ],
)
def test_csv_cell(value, cell):
    assert csv_cell(value) == cell


@pytest.fixture
def viewer(db):
    """A staff member allowed only to view carts."""
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_cart"))
    client = Client()
    client.force_login(user)
    return client


def test_staff_with_view_permission_can_list_and_export_but_not_change(viewer, carts):
    response = viewer.get(CARTS)
    assert response.status_code == 200
    assert 'value="export_csv"' in response.content.decode()
    _, rows = export(viewer, [carts["user"]])
    assert rows[1][:2] == [str(carts["user"].pk), "adah"]
    assert viewer.get(f"{CARTS}{carts['user'].pk}/change/").status_code == 200
    assert viewer.post(f"{CARTS}{carts['user'].pk}/change/", {}).status_code == 403
    assert viewer.get(PRODUCTS).status_code == 403


# Query counts


def make_carts(count: int, lines: int = 3) -> None:
    products = ProductFactory.create_batch(lines)
    for n in range(count):
        cart = CartFactory(user=None, session_id=uuid.uuid4().hex) if n % 2 else CartFactory()
        for product in products:
            CartItemFactory(cart=cart, product=product, quantity=2)


CART_LIST_QUERIES = 4  # session, user, count, the page


def test_cart_list_makes_the_same_queries_for_5_and_60_carts(
    web, db, django_assert_max_num_queries
):
    make_carts(5)
    with django_assert_max_num_queries(CART_LIST_QUERIES) as few:
        assert web.get(CARTS).status_code == 200
    make_carts(55)
    with django_assert_max_num_queries(CART_LIST_QUERIES) as many:
        response = web.get(CARTS)
    assert len(response.context["cl"].result_list) == 60
    assert len(few) == len(many)


USER_LIST_QUERIES = 6  # session, user, groups (filter), count, full count, the page


def test_user_list_makes_the_same_queries_for_few_and_many_users(
    web, db, django_assert_max_num_queries
):
    make_carts(4)
    with django_assert_max_num_queries(USER_LIST_QUERIES) as few:
        assert web.get(USERS).status_code == 200
    make_carts(52)
    with django_assert_max_num_queries(USER_LIST_QUERIES) as many:
        response = web.get(USERS)
    assert len(response.context["cl"].result_list) == 1 + 2 + 26
    assert len(few) == len(many)


PRODUCT_LIST_QUERIES = 6  # session, user, count, full count, the page, currencies


@pytest.mark.parametrize("query", ["", f"?o=-{SHORT_BY}", "?demand=exceeds_stock&o=2"])
def test_product_list_makes_a_fixed_number_of_queries(web, db, django_assert_num_queries, query):
    """Whatever the number of products, carts and lines on the page, the demand included: the
    page is one query, and only it and its count read the lines."""

    def fill(products: int, carts: int) -> None:
        batch = ProductFactory.create_batch(products, stock=1)
        for n in range(carts):
            holding(
                CartStatus.ACTIVE,
                *[(product, 2, {"n": str(n)}) for product in batch],
                *[(product, 1, {}) for product in batch[::2]],
            )

    fill(3, 2)
    with django_assert_num_queries(PRODUCT_LIST_QUERIES) as few:
        response = web.get(f"{PRODUCTS}{query}")
    assert len(response.context["cl"].result_list) == 3
    fill(60, 20)
    with django_assert_num_queries(PRODUCT_LIST_QUERIES) as many:
        response = web.get(f"{PRODUCTS}{query}")
    assert len(response.context["cl"].result_list) == 63
    assert {product.carts for product in response.context["cl"].result_list} == {2, 20}
    reading_lines = [q["sql"] for q in many.captured_queries if "carts_cartitem" in q["sql"]]
    assert len(reading_lines) == 2  # the count of the page, the page
    assert len(few) == len(many)


# Users


def test_user_list_links_each_users_carts(web, carts):
    ada, bob = carts["ada"], UserFactory(username="bob")
    response = web.get(USERS)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<a href="{CARTS}?user__id__exact={ada.pk}">2</a>' in html
    assert row_cells(response, ">bob<")["carts"] == "0"
    assert row_cells(response, ">adah<")["carts"] == "2"
    assert f"{CARTS}?user__id__exact={bob.pk}" in html


def test_user_change_page_lists_the_users_carts(web, carts):
    ada = carts["ada"]
    response = web.get(f"{USERS}{ada.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<a href="{CARTS}?user__id__exact={ada.pk}">All 2 carts</a>' in html
    for cart in (carts["user"], carts["old"]):
        assert f'href="{CARTS}{cart.pk}/change/"' in html
    assert str(carts["guest"].pk) not in html


def test_user_pages_still_add_and_save_users(web, carts):
    ada = carts["ada"]
    assert web.get(f"{USERS}add/").status_code == 200
    joined = timezone.localtime(ada.date_joined)
    response = web.post(
        f"{USERS}{ada.pk}/change/",
        {
            "username": "adah",
            "email": "ada@example.org",
            "is_active": "on",
            "date_joined_0": joined.date().isoformat(),
            "date_joined_1": joined.time().strftime("%H:%M:%S"),
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    ada.refresh_from_db()
    assert ada.email == "ada@example.org"


# Access


@pytest.mark.parametrize("path", ["/admin/", CARTS, PRODUCTS, USERS])
def test_non_staff_are_sent_to_the_login_page(db, path):
    shopper = Client()
    shopper.force_login(UserFactory())
    for client in (shopper, Client()):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")
