"""How the admin shows carts' values: short ids, times with their zone, amounts with their
currency, and a cart's discounts."""

from decimal import Decimal

from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join

from carts.models import Cart


def short_id(cart: Cart) -> str:
    """The first 8 of the id's 32 digits: enough to tell carts apart on a page, and to find
    the cart again (the search takes any part of an id)."""
    return str(cart.id)[:8]


def moment(value, *, seconds: bool = False) -> str | None:
    """A time as the admin shows it everywhere, in the site's zone and saying which:
    `2026-12-05 07:19 UTC` (None, shown as a dash, when there is none)."""
    if value is None:
        return None
    local = timezone.localtime(value)
    clock = dateformat.format(local, "H:i:s T" if seconds else "H:i T")
    return format_html(
        '<time datetime="{}"><span>{}</span> <span>{}</span></time>',
        local.isoformat(),
        dateformat.format(local, "Y-m-d"),
        clock,
    )


def money(amount: Decimal | None, currency: str) -> str | None:
    """`97.50 EUR`, as every amount of the cart admin reads."""
    return None if amount is None else f"{amount:.2f} {currency}"


CODE_ROW = "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"
LINE_ROW = "<tr><td>{} {}</td><td>{}</td><td>{}</td></tr>"


def discounts_html(document: dict) -> str:
    """The cart document's codes (what each takes off, or why not) and each line's discount,
    in a box that scrolls sideways on a narrow screen."""
    codes = format_html_join(
        "",
        CODE_ROW,
        (
            (c["code"], c["kind"], c["value"], c["amount"], c["applicable"], c["reason"] or "")
            for c in document["discounts"]
        ),
    )
    lines = format_html_join(
        "",
        LINE_ROW,
        (
            (i["product"]["sku"], i["product"]["name"], i["line_total"], i["discount"])
            for i in document["items"]
        ),
    )
    return format_html(
        '<div class="cart-discounts-scroll"><table class="cart-discounts"><tr><th>code</th>'
        "<th>kind</th><th>value</th><th>amount</th><th>applicable</th><th>reason</th></tr>{}"
        '</table><table class="line-discounts"><tr><th>line</th><th>line total</th>'
        "<th>discount</th></tr>{}</table></div>",
        codes,
        lines,
    )
