"""A discount's amount and its lines' shares, to the cent (carts/discounts.py)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carts.discounts import DiscountKind, discount_amount, discount_shares

PERCENTAGE, FIXED = DiscountKind.PERCENTAGE, DiscountKind.FIXED_AMOUNT


def money(text: str) -> Decimal:
    return Decimal(text)


def cents(low: int, high: int):
    return st.integers(low, high).map(lambda n: Decimal(n) / 100)


@pytest.mark.parametrize(
    ("kind", "value", "total", "expected"),
    [
        (PERCENTAGE, "10", "19.99", "2.00"),  # 1.999 rounds half-up
        (PERCENTAGE, "12.5", "0.20", "0.03"),  # 0.025, half-up, not to even
        (PERCENTAGE, "100", "7.31", "7.31"),
        (FIXED, "5.00", "12.00", "5.00"),
        (FIXED, "50.00", "12.00", "12.00"),  # never more than the lines are worth
    ],
)
def test_the_amount(kind, value, total, expected):
    assert discount_amount(kind=kind, value=money(value), eligible_total=money(total)) == money(
        expected
    )


def test_the_cents_left_over_go_to_the_largest_line():
    shares = discount_shares(
        kind=PERCENTAGE, value=money("10"), line_totals=[money("3.33")] * 2 + [money("3.34")]
    )
    # 10 % of 10.00 is 1.00; each line's 0.333... rounds down to 0.33, the cent left to 3.34.
    assert shares == [money("0.33"), money("0.33"), money("0.34")]


def test_a_fixed_amount_is_shared_in_proportion():
    shares = discount_shares(
        kind=FIXED, value=money("10.00"), line_totals=[money("30.00"), money("10.00")]
    )
    assert shares == [money("7.50"), money("2.50")]


def test_no_share_exceeds_its_line_when_the_largest_cannot_take_every_cent():
    # 99 % of 0.02 is 0.02: each line's 0.0099 rounds down to nothing, two cents are left,
    # and the largest line is worth only one of them.
    shares = discount_shares(kind=PERCENTAGE, value=money("99"), line_totals=[money("0.01")] * 2)
    assert shares == [money("0.01"), money("0.01")]


def test_no_eligible_line_no_discount():
    assert discount_shares(kind=FIXED, value=money("5.00"), line_totals=[]) == []
    assert discount_shares(kind=PERCENTAGE, value=money("10"), line_totals=[money("0.04")]) == [
        money("0.00")
    ]


@given(
    kind=st.sampled_from(DiscountKind),
    percent=cents(1, 10_000),
    fixed=cents(1, 100_000),
    line_totals=st.lists(cents(1, 500_000), max_size=60),
)
def test_the_shares_add_up_to_the_amount_and_stay_within_their_lines(
    kind, percent, fixed, line_totals
):
    value = percent if kind == PERCENTAGE else fixed
    shares = discount_shares(kind=kind, value=value, line_totals=line_totals)
    amount = discount_amount(kind=kind, value=value, eligible_total=sum(line_totals, Decimal(0)))

    assert sum(shares, Decimal(0)) == amount
    assert all(Decimal(0) <= share <= line for share, line in zip(shares, line_totals, strict=True))
    assert all(share == share.quantize(Decimal("0.01")) for share in shares)
    assert amount <= sum(line_totals, Decimal(0))
