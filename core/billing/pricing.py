"""What a request costs: its items priced under the price list and agreement of the filing day, quotas applied.

The same function gives the estimate the customer sees before sending and the one recorded when the
request is filed, so the two agree unless something changed in between (the filing then refuses a
mismatching fingerprint instead of charging what the customer did not see).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Date, bindparam, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from core.billing.models import Agreement, IncludedBy, PlannedCharge, PriceItem, PriceList, Unit
from core.billing.money import Totals, format_money, format_percent, line_amounts, totals
from core.billing.periods import local_day, month_of
from core.models import Organisation, Request
from core.platform.i18n import current_language
from core.platform.i18n import gettext as _
from core.requests.request_types import ChargeItem
from core.requests.statuses import Status


@dataclass
class EstimateLine:
    """One priced item of an estimate (a quota that covers part of an item splits it into two lines)."""

    position: int
    code: str
    quantity: int
    note: str = ""
    included_by: IncludedBy = IncludedBy.NOTHING
    quota_limit: int | None = None
    quota_remaining: int | None = None
    price_list_id: int | None = None
    price_item_id: int | None = None
    name_sv: str = ""
    name_en: str = ""
    unit: str = Unit.PIECE.value
    unit_price_ore: int = 0
    discount_bp: int = 0
    vat_percent: int = 0
    amount_ore: int = 0
    vat_ore: int = 0

    @property
    def priced(self) -> bool:
        """False when no price list was in force for the code on the filing day: nothing is charged."""
        return self.price_item_id is not None or self.included_by == IncludedBy.TYPE

    @property
    def name(self) -> str:
        chosen = self.name_en if current_language() == "en" else self.name_sv
        return chosen or self.code

    @property
    def unit_label(self) -> str:
        return Unit(self.unit).label if self.unit in Unit._value2member_map_ else self.unit

    @property
    def total_ore(self) -> int:
        return self.amount_ore + self.vat_ore

    def explanation(self) -> str:
        """Why the line costs what it does, in the viewer's language (empty when nothing needs saying)."""
        if self.included_by == IncludedBy.TYPE:
            return _("Included in your agreement")
        if self.included_by == IncludedBy.QUOTA:
            return _(
                "Included in your agreement (%(remaining)s of %(limit)s left this month)",
                remaining=self.quota_remaining,
                limit=self.quota_limit,
            )
        if not self.priced:
            return _("No price list applies to this item; it is not charged.")
        parts = []
        if self.quota_limit is not None:
            parts.append(_("This month's %(limit)s included are used up", limit=self.quota_limit))
        if self.discount_bp:
            parts.append(_("Discount %(percent)s %%", percent=format_percent(self.discount_bp)))
        return "; ".join(parts)

    def fingerprint_parts(self) -> list[object]:
        return [
            self.code,
            self.quantity,
            self.included_by.value,
            self.price_item_id,
            self.unit_price_ore,
            self.discount_bp,
            self.vat_percent,
            self.amount_ore,
            self.vat_ore,
        ]


@dataclass
class Estimate:
    filed_on: date
    quota_month: date
    agreement: Agreement | None
    lines: list[EstimateLine] = field(default_factory=list)
    agreement_id: int | None = None
    """Kept apart from ``agreement``: the row expires when a refused filing rolls back, the id does not."""

    def __post_init__(self) -> None:
        if self.agreement is not None:
            self.agreement_id = self.agreement.id

    @property
    def priced_lines(self) -> list[EstimateLine]:
        return [line for line in self.lines if line.priced]

    @property
    def totals(self) -> Totals:
        return totals((line.amount_ore, line.vat_ore) for line in self.priced_lines)

    @property
    def shows_anything(self) -> bool:
        """Whether there is something to show the customer before sending (a cost, or an inclusion)."""
        return bool(self.priced_lines)

    @property
    def fingerprint(self) -> str:
        """Identifies what will be charged (not the quota counts shown next to it)."""
        parts = [self.agreement_id, [line.fingerprint_parts() for line in self.lines]]
        return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()[:32]

    def headline(self) -> str:
        """``Beräknad kostnad: 1 250,00 kr exkl. moms`` or ``Ingår i ert avtal (3 av 5 kvar denna månad)``."""
        return headline(self.priced_lines)


def headline(lines: Sequence[EstimateLine]) -> str:
    amount = sum(line.amount_ore for line in lines)
    if amount != 0 or not lines:
        return _("Estimated cost: %(amount)s excl. VAT", amount=format_money(amount))
    quota_lines = [line for line in lines if line.included_by == IncludedBy.QUOTA]
    if len(quota_lines) == 1 and all(line.included_by != IncludedBy.NOTHING for line in lines):
        return quota_lines[0].explanation()
    return _("Included in your agreement")


def agreement_in_force(session: Session, organisation_id: int, day: date) -> Agreement | None:
    """The organisation's agreement on ``day`` (at most one: saving refuses overlaps)."""
    return session.exec(_agreement_lookup(), params={"organisation_id": organisation_id, "day": day}).scalars().first()


@lru_cache(maxsize=1)
def _agreement_lookup() -> Any:
    """Built once: every filing looks its agreement up while it holds the writer's turn."""
    day = bindparam("day", type_=Date())
    return (
        sa_select(Agreement)
        .where(
            col(Agreement.organisation_id) == bindparam("organisation_id"),
            col(Agreement.valid_from) <= day,
            (col(Agreement.valid_to).is_(None)) | (col(Agreement.valid_to) >= day),
        )
        .order_by(col(Agreement.valid_from).desc())
        .limit(1)
    )


def price_items_on(session: Session, day: date, codes: Sequence[str] | None = None) -> dict[str, PriceItem]:
    """The price item in force for each code on ``day`` (at most one per code: saving refuses overlaps)."""
    query = (
        select(PriceItem)
        .join(PriceList, col(PriceItem.price_list_id) == col(PriceList.id))
        .where(
            col(PriceList.valid_from) <= day,
            (col(PriceList.valid_to).is_(None)) | (col(PriceList.valid_to) >= day),
        )
        .order_by(col(PriceItem.code), col(PriceList.valid_from).desc())
    )
    if codes is not None:
        query = query.where(col(PriceItem.code).in_(list(codes)))
    found: dict[str, PriceItem] = {}
    for item in session.exec(query):
        found.setdefault(item.code, item)
    return found


def quota_used(
    session: Session, organisation_id: int, month: date, code: str, *, exclude_request_id: int | None = None
) -> int:
    """Units of ``code`` included by quota in requests the organisation filed in ``month`` and did not cancel."""
    query = (
        select(func.coalesce(func.sum(PlannedCharge.quantity), 0))
        .select_from(PlannedCharge)
        .join(Request, col(PlannedCharge.request_id) == col(Request.id))
        .where(
            PlannedCharge.organisation_id == organisation_id,
            PlannedCharge.quota_month == month,
            PlannedCharge.code == code,
            PlannedCharge.included_by == IncludedBy.QUOTA.value,
            Request.status != Status.CANCELLED.value,
        )
    )
    if exclude_request_id is not None:
        query = query.where(PlannedCharge.request_id != exclude_request_id)
    return int(session.exec(query).one())


def estimate(
    session: Session,
    *,
    organisation_id: int,
    type_key: str,
    items: Sequence[ChargeItem],
    moment: datetime,
    lock: bool = False,
    exclude_request_id: int | None = None,
) -> Estimate:
    """Price ``items`` for a request of ``type_key`` filed at ``moment``.

    ``lock`` (filing) takes the organisation's row lock before counting quota use, so two requests filed
    at the same moment cannot both take the last unit (PostgreSQL; SQLite writers are serialised anyway).
    """
    day = local_day(moment)
    month = month_of(day)
    agreement = agreement_in_force(session, organisation_id, day)
    result = Estimate(filed_on=day, quota_month=month, agreement=agreement)
    if not items:
        return result
    prices = price_items_on(session, day, sorted({item.code for item in items}))
    included_type = agreement is not None and type_key in (agreement.included_types or [])
    quotas: dict[str, int] = dict(agreement.quotas or {}) if agreement is not None and not included_type else {}
    if lock and any(item.code in quotas for item in items):
        session.exec(select(Organisation.id).where(Organisation.id == organisation_id).with_for_update(key_share=True))
    remaining: dict[str, int] = {}
    discount = agreement.discount_bp if agreement is not None else 0
    for item in items:
        price = prices.get(item.code)
        base = EstimateLine(position=0, code=item.code, quantity=item.quantity, note=item.note)
        if price is not None:
            base.price_list_id = price.price_list_id
            base.price_item_id = price.id
            base.name_sv, base.name_en, base.unit = price.name_sv, price.name_en, price.unit
            base.vat_percent = price.vat_percent
        if included_type:
            base.included_by = IncludedBy.TYPE
            _append(result, base)
            continue
        if price is None:
            _append(result, base)
            continue
        limit = quotas.get(item.code)
        if limit is not None:
            if item.code not in remaining:
                used = quota_used(session, organisation_id, month, item.code, exclude_request_id=exclude_request_id)
                remaining[item.code] = max(0, limit - used)
            left = remaining[item.code]
            covered = min(left, item.quantity)
            if covered:
                _append(
                    result,
                    _copy(base, quantity=covered, included_by=IncludedBy.QUOTA, limit=limit, left=left),
                )
                remaining[item.code] = left - covered
            if covered == item.quantity:
                continue
            base = _copy(base, quantity=item.quantity - covered, limit=limit, left=remaining[item.code])
        base.unit_price_ore = price.unit_price_ore
        base.discount_bp = discount
        amounts = line_amounts(base.unit_price_ore, base.quantity, discount, base.vat_percent)
        base.amount_ore, base.vat_ore = amounts.amount_ore, amounts.vat_ore
        _append(result, base)
    return result


def _copy(
    line: EstimateLine,
    *,
    quantity: int,
    limit: int,
    left: int,
    included_by: IncludedBy = IncludedBy.NOTHING,
) -> EstimateLine:
    return EstimateLine(
        position=0,
        code=line.code,
        quantity=quantity,
        note=line.note,
        included_by=included_by,
        quota_limit=limit,
        quota_remaining=left,
        price_list_id=line.price_list_id,
        price_item_id=line.price_item_id,
        name_sv=line.name_sv,
        name_en=line.name_en,
        unit=line.unit,
        vat_percent=line.vat_percent,
    )


def _append(result: Estimate, line: EstimateLine) -> None:
    line.position = len(result.lines)
    result.lines.append(line)


def from_planned(lines: Sequence[PlannedCharge], agreement: Agreement | None, filed_on: date) -> Estimate:
    """The recorded estimate of a request, as an :class:`Estimate` (for its page)."""
    result = Estimate(filed_on=filed_on, quota_month=month_of(filed_on), agreement=agreement)
    for row in sorted(lines, key=lambda line: line.position):
        result.lines.append(
            EstimateLine(
                position=row.position,
                code=row.code,
                quantity=row.quantity,
                note=row.note,
                included_by=IncludedBy(row.included_by),
                quota_limit=row.quota_limit,
                quota_remaining=row.quota_remaining,
                price_list_id=row.price_list_id,
                price_item_id=row.price_item_id,
                name_sv=row.name_sv,
                name_en=row.name_en,
                unit=row.unit,
                unit_price_ore=row.unit_price_ore,
                discount_bp=row.discount_bp,
                vat_percent=row.vat_percent,
                amount_ore=row.amount_ore,
                vat_ore=row.vat_ore,
            )
        )
    return result


def cost_notices(session: Session, request_type: Any, *, organisation_id: int, moment: datetime) -> list[str]:
    """The type's :attr:`~core.api.RequestType.cost_notices`, priced for the organisation now, in the current
    language: what an item the request may *later* give rise to costs (a visit, if the fault is the customer's),
    said on the form before sending. An item no price list prices is left out (there is nothing to say)."""
    found: list[str] = []
    for code, message in dict(getattr(request_type, "cost_notices", {}) or {}).items():
        priced = estimate(
            session, organisation_id=organisation_id, type_key=request_type.key, items=[ChargeItem(code)], moment=moment
        )
        line = priced.lines[0] if priced.lines else None
        if line is None or not line.priced:
            continue
        price = _("included in your agreement") if line.included_by else format_money(line.amount_ore)
        found.append(_(message, item=line.name, price=price))
    return found
