"""Money: integer öre, the one rounding rule, and amounts written the Swedish way ("1 250,00 kr").

The rounding rule (the only one; ``docs/billing.md`` repeats it):

1. ``gross = unit price × quantity`` — exact, in öre.
2. ``discount = round(gross × discount %)`` — rounded half away from zero to whole öre.
3. ``amount = gross − discount`` — the line's amount excluding VAT.
4. ``vat = round(amount × VAT rate)`` — rounded half away from zero to whole öre, per line.
5. Totals (excluding VAT, VAT, including VAT) are sums of the rounded lines; nothing is rounded twice.

Half away from zero is symmetric (``round(−x) == −round(x)``), so a credit computed from the negated
quantity equals the negated line exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, format_decimal

from core.platform import i18n

BASIS_POINTS = 10_000
"""Discounts are stored in hundredths of a percent: 1000 = 10 %."""


def round_half_away(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero (integers only)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return sign * quotient


@dataclass(frozen=True)
class LineAmounts:
    gross_ore: int
    discount_ore: int
    amount_ore: int
    """Excluding VAT, after the discount."""
    vat_ore: int

    @property
    def total_ore(self) -> int:
        return self.amount_ore + self.vat_ore


def line_amounts(unit_price_ore: int, quantity: int, discount_bp: int, vat_percent: int) -> LineAmounts:
    """Apply the rounding rule to one line."""
    gross = unit_price_ore * quantity
    discount = round_half_away(gross * discount_bp, BASIS_POINTS)
    amount = gross - discount
    vat = round_half_away(amount * vat_percent, 100)
    return LineAmounts(gross, discount, amount, vat)


@dataclass(frozen=True)
class Totals:
    amount_ore: int = 0
    vat_ore: int = 0

    @property
    def total_ore(self) -> int:
        return self.amount_ore + self.vat_ore


def totals(lines: Iterable[tuple[int, int]]) -> Totals:
    """Sum already-rounded lines given as ``(amount_ore, vat_ore)``."""
    amount = vat = 0
    for line_amount, line_vat in lines:
        amount += line_amount
        vat += line_vat
    return Totals(amount, vat)


def _locale() -> str:
    return "en_GB" if i18n.current_language() == "en" else "sv_SE"


def format_money(ore: int) -> str:
    """``125000`` → ``1 250,00 kr`` in Swedish (no-break spaces, as Babel writes it), ``1,250.00 SEK`` in English."""
    value = Decimal(ore) / 100
    if _locale() == "sv_SE":
        return format_currency(value, "SEK", locale="sv_SE")
    return format_currency(value, "SEK", format="#,##0.00\xa0¤", locale="en_GB", currency_digits=False)


def format_amount(ore: int) -> str:
    """The number alone, two decimals, grouped: ``1 250,00`` (for table cells under a "kr" heading)."""
    return format_decimal(Decimal(ore) / 100, format="#,##0.00", locale=_locale())


def format_percent(basis_points: int) -> str:
    """``1000`` → ``10``, ``1250`` → ``12,5`` (the caller writes the % sign)."""
    return format_decimal(Decimal(basis_points) / 100, format="#,##0.##", locale=_locale())


def csv_amount(ore: int) -> str:
    """Plain decimal comma, no grouping, for the CSV export: ``-1250,50``."""
    sign = "-" if ore < 0 else ""
    whole, cents = divmod(abs(ore), 100)
    return f"{sign}{whole},{cents:02d}"


_AMOUNT = re.compile(r"^(?P<whole>\d{1,8})(?:[.,](?P<fraction>\d{1,2}))?$")
MAX_AMOUNT_ORE = 10_000_000_00
"""Ten million kronor: no price or adjustment is larger; a longer number is a typing error, not an amount."""


def parse_money(text: str) -> int | None:
    """Kronor as people type them (``1 250``, ``1250,5``, ``1250.50``, ``95 kr``) → öre; None if it is not one.

    Negative amounts, more than two decimals and more than ten million kronor are not amounts of a price
    list: None.
    """
    cleaned = text.strip().lower().removesuffix("kr").removesuffix("sek").strip()
    cleaned = cleaned.replace("\xa0", "").replace(" ", "").replace("\u202f", "")
    match = _AMOUNT.match(cleaned)
    if not match:
        return None
    fraction = (match.group("fraction") or "").ljust(2, "0")
    ore = int(match.group("whole")) * 100 + int(fraction or "0")
    return ore if ore <= MAX_AMOUNT_ORE else None


_PERCENT = re.compile(r"^(?P<whole>\d{1,3})(?:[.,](?P<fraction>\d{1,2}))?$")


def parse_percent(text: str) -> int | None:
    """``10`` / ``12,5`` / ``12.25 %`` → basis points; None if it is not a number with at most two decimals."""
    cleaned = text.strip().removesuffix("%").strip()
    match = _PERCENT.match(cleaned)
    if not match:
        return None
    fraction = (match.group("fraction") or "").ljust(2, "0")
    return int(match.group("whole")) * 100 + int(fraction or "0")
