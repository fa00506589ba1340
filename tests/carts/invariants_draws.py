"""The world the cart-invariants state machine (test_invariants.py) acts in, and what its
rules draw: shoppers, products and discount codes, small limits so that random sequences reach
them, and the strategies of the rules' arguments."""

from decimal import Decimal

from hypothesis import strategies as st

MAX_QUANTITY = 5  # small limits, so that random sequences reach them
MAX_LINES = 3  # room for a product on two lines beside another product
MAX_SAVED = 1  # SAVED_ITEMS_MAX: a user's second save of another line is refused
USERS, GUESTS = 3, 2
PRODUCTS = [  # sku, price, currency, stock
    ("P1", Decimal("10.00"), "EUR", 6),
    ("P2", Decimal("1.99"), "EUR", 3),
    ("P3", Decimal("0.10"), "EUR", 10),
    ("P4", Decimal("5.00"), "USD", 10),
]
PRICES = [Decimal("0.10"), Decimal("1.99"), Decimal("10.00"), Decimal("33.33")]
MAX_CODES = 2
CODES = [  # code, its terms, the products (by index) it is limited to
    ("TEN", {"kind": "percentage", "value": Decimal("10"), "max_uses": 2}, []),
    (
        "FIVE",
        {"kind": "fixed_amount", "value": Decimal("5"), "currency": "EUR", "min_subtotal": 10},
        [0],
    ),
    ("HALF", {"kind": "percentage", "value": Decimal("50"), "max_uses_per_customer": 1}, []),
]
UNKNOWN_ITEM = 999_999_999

CODE = st.integers(0, len(CODES) - 1)
CODE_CHANGE = st.one_of(
    st.tuples(st.just("value"), st.sampled_from([Decimal("1"), Decimal("10"), Decimal("100")])),
    st.tuples(st.just("is_active"), st.booleans()),
    st.tuples(st.just("max_uses"), st.sampled_from([None, 0, 1, 2, 3])),
    st.tuples(st.just("ends_at"), st.sampled_from([None, "past"])),
)

SHOPPER = st.integers(0, USERS + GUESTS - 1)
USER = st.integers(0, USERS - 1)
GUEST = st.integers(USERS, USERS + GUESTS - 1)
PRODUCT = st.integers(0, len(PRODUCTS) - 1)
# A line's attributes: None and {} are none; {"size": "M"} and {" size ": "M "} are one line
# once normalised; the last is another (its keys out of order).
ATTRIBUTES = st.sampled_from(
    [None, {}, {"size": "M"}, {" size ": "M "}, {"size": "L", "gift": "yes"}]
)
# Mostly valid quantities; 0 and one past the limit are refused by add.
QUANTITY = st.sampled_from([1, 1, 1, 2, 2, 3, MAX_QUANTITY, 0, MAX_QUANTITY + 1])
# A bulk add's entries: (product, or len(PRODUCTS) for an unknown one; quantity; attributes),
# often twice the same product, or the same line.
ENTRY = st.tuples(
    st.sampled_from([*range(len(PRODUCTS)), 0, 0, len(PRODUCTS)]),
    st.sampled_from([1, 1, 1, 2, 2, 3, MAX_QUANTITY, 0]),
    ATTRIBUTES,
)
ENTRIES = st.lists(ENTRY, min_size=1, max_size=3)
# A line's new quantity: 0 removes it through an update, None through a removal.
NEW_QUANTITY = st.sampled_from([None, 0, 1, 2, 3, MAX_QUANTITY, MAX_QUANTITY + 1])
# Mostly no If-Match; else the cart's current ETag, a stale one, or "*".
IF_MATCH = st.sampled_from([None, None, None, None, None, "current", "stale", "*"])
STAFF_CHANGE = st.one_of(
    st.tuples(st.just("stock"), st.integers(0, 6)),
    st.tuples(st.just("price"), st.sampled_from(PRICES)),
    st.tuples(st.just("is_active"), st.booleans()),
)
# A line: (own, index): one of the shopper's own lines (if any), or any line of any cart
# (another shopper's, a closed cart's) or an unknown id.
LINE = st.tuples(st.sampled_from([True, True, False]), st.integers(0, 12))
# A saved item, likewise: (own, index): one of the user's own, or anyone's, or an unknown id.
SAVED_ITEM = st.tuples(st.sampled_from([True, True, False]), st.integers(0, 8))
# How the payment service answers a one-shot checkout ("none": there is no payment service).
PAYMENT_ANSWERS = ["approve", "refuse", "lost", "none"]
PAYMENT = st.sampled_from(["approve", *PAYMENT_ANSWERS])
# Who changes a line or checks out: mostly a shopper whose cart holds lines (see `_buyer`).
BUYER = st.integers(0, 19)
# An attempt: mostly a reserved one (if any), else any attempt, ended ones included.
ATTEMPT = st.integers(0, 15)
# What the payment service says of an expired attempt's key when the sweeper asks.
OUTCOME = st.sampled_from(["authorised", "absent", "refused"])
