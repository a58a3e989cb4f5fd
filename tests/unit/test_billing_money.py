"""The one rounding rule, Swedish money formats, months in Stockholm time and validity overlaps (no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.billing.money import (
    csv_amount,
    format_amount,
    format_money,
    format_percent,
    line_amounts,
    parse_money,
    parse_percent,
    round_half_away,
    totals,
)
from core.billing.periods import local_day, local_month, month_key, next_month, overlaps, parse_month, previous_month
from core.platform.i18n import use_language
from core.requests.request_types import ChargeItem

NBSP = "\xa0"

prices = st.integers(min_value=0, max_value=10_000_000)
quantities = st.integers(min_value=1, max_value=10_000)
discounts = st.integers(min_value=0, max_value=10_000)
vat_rates = st.sampled_from([25, 12, 6, 0])


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(5, 10, 1), (4, 10, 0), (15, 10, 2), (-5, 10, -1), (-4, 10, 0), (-15, 10, -2), (0, 7, 0), (125, 100, 1)],
)
def test_rounding_is_half_away_from_zero(numerator: int, denominator: int, expected: int) -> None:
    assert round_half_away(numerator, denominator) == expected


def test_a_line_is_rounded_once_per_step() -> None:
    # 3 × 33,33 kr = 99,99 kr; 12,5 % discount = 12,49875 kr → 12,50 kr; 87,49 kr; VAT 25 % = 21,8725 → 21,87 kr.
    amounts = line_amounts(3333, 3, 1250, 25)
    assert (amounts.gross_ore, amounts.discount_ore, amounts.amount_ore, amounts.vat_ore) == (9999, 1250, 8749, 2187)
    assert amounts.total_ore == 10936


def test_ten_tags_and_postage_with_the_demo_discount() -> None:
    tags = line_amounts(12000, 10, 1000, 25)
    postage = line_amounts(5000, 1, 1000, 25)
    assert (tags.amount_ore, tags.vat_ore) == (108000, 27000)
    both = totals([(tags.amount_ore, tags.vat_ore), (postage.amount_ore, postage.vat_ore)])
    assert (both.amount_ore, both.vat_ore, both.total_ore) == (112500, 28125, 140625)


@given(prices, quantities, discounts, vat_rates)
def test_a_credit_computed_by_the_rule_cancels_its_line_exactly(price: int, quantity: int, bp: int, vat: int) -> None:
    line = line_amounts(price, quantity, bp, vat)
    credit = line_amounts(price, -quantity, bp, vat)
    assert (credit.amount_ore + line.amount_ore, credit.vat_ore + line.vat_ore) == (0, 0)


@given(st.lists(st.tuples(prices, quantities, discounts, vat_rates), max_size=30))
def test_totals_are_the_sums_of_the_rounded_lines(lines: list[tuple[int, int, int, int]]) -> None:
    rounded = [line_amounts(*line) for line in lines]
    result = totals((r.amount_ore, r.vat_ore) for r in rounded)
    assert result.amount_ore == sum(r.amount_ore for r in rounded)
    assert result.vat_ore == sum(r.vat_ore for r in rounded)
    assert result.total_ore == sum(r.total_ore for r in rounded)
    for r in rounded:  # the discount never makes a line negative, VAT never exceeds the rate's share
        assert 0 <= r.amount_ore <= r.gross_ore and 0 <= r.vat_ore * 100 <= r.amount_ore * 25 + 50


def test_money_is_written_the_swedish_way_with_no_break_spaces() -> None:
    with use_language("sv"):
        assert format_money(125000) == f"1{NBSP}250,00{NBSP}kr"
        assert format_money(-5) == f"-0,05{NBSP}kr"
        assert format_amount(123456789) == f"1{NBSP}234{NBSP}567,89"
        assert format_percent(1000) == "10" and format_percent(1250) == "12,5"
    with use_language("en"):
        assert format_money(125000) == f"1,250.00{NBSP}SEK"
        assert format_percent(1250) == "12.5"


def test_csv_amounts_have_a_decimal_comma_and_no_grouping() -> None:
    assert [csv_amount(v) for v in (0, 5, 125000, -125050)] == ["0,00", "0,05", "1250,00", "-1250,50"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1250", 125000),
        ("1 250,50", 125050),
        (f"1{NBSP}250,5", 125050),
        ("95 kr", 9500),
        ("0", 0),
        ("12.25", 1225),
        ("-3", None),
        ("1,234", None),
        ("abc", None),
        ("", None),
    ],
)
def test_prices_are_read_as_people_type_them(text: str, expected: int | None) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("10", 1000), ("12,5", 1250), ("7.25 %", 725), ("-1", None)])
def test_percentages_become_basis_points(text: str, expected: int | None) -> None:
    assert parse_percent(text) == expected


def test_the_month_is_the_stockholm_month() -> None:
    # 23:30 UTC on 31 March is 01:30 on 1 April in Stockholm (summer time since 29 March 2026).
    assert local_month(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == date(2026, 4, 1)
    assert local_month(datetime(2026, 3, 31, 21, 59, tzinfo=UTC)) == date(2026, 3, 1)
    # Winter time (UTC+1): 23:00 UTC on 31 December is already the new year.
    assert local_month(datetime(2026, 12, 31, 23, 0, tzinfo=UTC)) == date(2027, 1, 1)
    assert local_day(datetime(2026, 10, 31, 22, 59, tzinfo=UTC)) == date(2026, 10, 31)
    assert local_day(datetime(2026, 10, 31, 23, 0, tzinfo=UTC)) == date(2026, 11, 1)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)))
def test_months_step_and_print_consistently(moment: datetime) -> None:
    month = local_month(moment.replace(tzinfo=UTC))
    assert month.day == 1
    assert previous_month(next_month(month)) == month
    assert parse_month(month_key(month)) == month
    assert next_month(month) - month in {timedelta(days=n) for n in (28, 29, 30, 31)}


@pytest.mark.parametrize("text", ["2026-13", "2026-4", "26-04", "x", "1999-12"])
def test_bad_months_are_refused(text: str) -> None:
    assert parse_month(text) is None


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ((date(2026, 1, 1), None), (date(2027, 1, 1), None), True),
        ((date(2026, 1, 1), date(2026, 12, 31)), (date(2027, 1, 1), None), False),
        ((date(2026, 1, 1), date(2026, 12, 31)), (date(2026, 12, 31), None), True),  # both ends are inclusive
        ((date(2026, 6, 1), date(2026, 6, 30)), (date(2026, 1, 1), date(2026, 5, 31)), False),
        ((date(2026, 6, 1), date(2026, 6, 30)), (date(2026, 6, 15), date(2026, 6, 15)), True),
    ],
)
def test_validity_periods_overlap_when_they_share_a_day(
    first: tuple[date, date | None], second: tuple[date, date | None], expected: bool
) -> None:
    assert overlaps(*first, *second) is expected
    assert overlaps(*second, *first) is expected


@pytest.mark.parametrize(
    ("code", "quantity"), [("tag", 1), ("TAG", 0), ("TAG", -1), ("T", 1), ("1TAG", 1), ("TAG", True)]
)
def test_charge_items_refuse_what_no_price_list_could_hold(code: str, quantity: int) -> None:
    with pytest.raises(ValueError):
        ChargeItem(code, quantity)


def test_amounts_beyond_ten_million_kronor_are_not_amounts() -> None:
    from core.billing.money import MAX_AMOUNT_ORE, parse_money

    assert parse_money("10 000 000") == MAX_AMOUNT_ORE
    assert parse_money("10 000 000,01") is None
    assert parse_money("9" * 25) is None
