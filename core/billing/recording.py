"""Writing billing: the estimate recorded at filing, the charge lines made at completion, staff corrections.

Every line is written through :func:`_insert_once` with a key that names what it is for (``planned:<id>``,
``credit:<id>``, ``adjust:<id>``, ``staff:<request>:<form nonce>``), so a retried completion, a redelivered
message or a form sent twice never charges twice. Lines are never updated except for the one-time approval
of a proposed line; a correction is a credit of the old line (and, for an adjustment, a replacement).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from core.billing.models import (
    Agreement,
    Charge,
    ChargeKind,
    ChargeState,
    IncludedBy,
    InvoiceMonth,
    PlannedCharge,
    PriceItem,
    RequestBilling,
)
from core.billing.money import Totals, line_amounts, parse_money, totals
from core.billing.periods import local_month, next_month
from core.billing.pricing import Estimate, estimate, from_planned, price_items_on
from core.models import Request, User
from core.platform.clock import Clock
from core.platform.db import insert_rows
from core.platform.errors import Conflict, NotFound, ValidationFailed
from core.platform.i18n import N_
from core.platform.i18n import gettext as _
from core.requests.request_types import ChargeItem, RequestType
from core.requests.statuses import Status
from core.views import RequestView, UserView

MAX_QUANTITY = 10_000
MAX_REASON = 2000
NONCE = re.compile(r"^[A-Za-z0-9_-]{8,40}$")


class EstimateChanged(Conflict):
    """The cost recorded at filing differs from the one the customer confirmed: nothing is filed."""

    MESSAGE = N_("The cost has changed since you saw it. Check the new cost and send the request again.")

    def __init__(self, current: Estimate) -> None:
        super().__init__(self.MESSAGE)
        self.current = current


# --- Filing --------------------------------------------------------------------------------------------


def new_nonce() -> str:
    """Each rendered "add a charge" form carries one; the same form sent twice adds one line."""
    return secrets.token_urlsafe(12)


def charge_items_for(
    request_type: RequestType | None, request: Request | RequestView, data: BaseModel | None = None
) -> list[ChargeItem]:
    """The type's items for a stored request; none when the type is gone or its data no longer fits the form."""
    if request_type is None:
        return []
    if data is None:
        if request_type.version != request.schema_version:
            return []
        try:
            data = request_type.schema.model_validate(dict(request.data))
        except ValidationError:
            return []
    view = request if isinstance(request, RequestView) else RequestView.of(request)
    return list(request_type.charge_items(data, view))


def estimate_filing(
    session: Session,
    *,
    request: RequestView,
    request_type: RequestType,
    data: BaseModel,
    expected: str | None = None,
) -> Estimate:
    """What the request being filed costs, worked out in the filing transaction (quota use counted under the
    organisation's lock), before the request is written.

    ``expected`` is the fingerprint of the estimate the customer confirmed; if the cost now differs (a price
    list, the agreement or the month's quota changed meanwhile) the filing is refused.
    """
    result = _estimate(session, request, charge_items_for(request_type, request, data))
    if expected is not None and expected != result.fingerprint:
        raise EstimateChanged(result)
    return result


def _estimate(session: Session, request: RequestView, items: list[ChargeItem]) -> Estimate:
    return estimate(
        session,
        organisation_id=request.organisation_id,
        type_key=request.type_key,
        items=items,
        moment=request.created_at,
        lock=True,
        exclude_request_id=request.id,
    )


def record_estimate(session: Session, request: RequestView, result: Estimate) -> None:
    """Fix the filed request's billing: agreement, price list, quota use, the lines of ``result``."""
    agreement = result.agreement
    insert_rows(
        session,
        RequestBilling,
        [
            {
                "request_id": request.id,
                "organisation_id": request.organisation_id,
                "filed_on": result.filed_on,
                "quota_month": result.quota_month,
                "agreement_id": agreement.id if agreement else None,
                "discount_bp": agreement.discount_bp if agreement else 0,
                "requires_approval": agreement.requires_approval if agreement else False,
                "fingerprint": result.fingerprint,
                "created_at": request.created_at,
                "approved_at": None,
                "approved_by_id": None,
            }
        ],
    )
    insert_rows(
        session,
        PlannedCharge,
        [
            {
                "request_id": request.id,
                "organisation_id": request.organisation_id,
                "quota_month": result.quota_month,
                "position": line.position,
                "code": line.code,
                "note": line.note,
                "quantity": line.quantity,
                "included_by": line.included_by.value,
                "quota_limit": line.quota_limit,
                "quota_remaining": line.quota_remaining,
                "price_list_id": line.price_list_id,
                "price_item_id": line.price_item_id,
                "name_sv": line.name_sv,
                "name_en": line.name_en,
                "unit": line.unit,
                "unit_price_ore": line.unit_price_ore,
                "discount_bp": line.discount_bp,
                "vat_percent": line.vat_percent,
                "amount_ore": line.amount_ore,
                "vat_ore": line.vat_ore,
            }
            for line in result.lines
        ],
    )
    session.flush()


def billing_of(
    session: Session, request: Request, request_type: RequestType | None
) -> tuple[RequestBilling, list[PlannedCharge]]:
    """The request's recorded billing; requests filed before billing existed get theirs recorded now,
    under the terms of their filing day."""
    billing = session.get(RequestBilling, request.id)
    if billing is None:
        view = RequestView.of(request)
        record_estimate(session, view, _estimate(session, view, charge_items_for(request_type, view)))
        billing = session.get(RequestBilling, request.id)
        assert billing is not None
    planned = list(
        session.exec(
            select(PlannedCharge).where(PlannedCharge.request_id == request.id).order_by(col(PlannedCharge.position))
        )
    )
    return billing, planned


# --- Completion ----------------------------------------------------------------------------------------


def charge_completed(
    session: Session, request: Request, request_type: RequestType | None, actor: UserView | None, clock: Clock
) -> int:
    """Turn the recorded estimate into charge lines, in the transaction that completes the request.

    Safe to run again: each planned line has one key, so a second run adds nothing. Returns lines added.
    """
    if request.status != Status.COMPLETED:
        return 0
    billing, planned = billing_of(session, request, request_type)
    now = clock.now()
    state, month = _new_line_state(session, billing, now)
    added = 0
    for line in planned:
        if line.price_item_id is None and line.included_by != IncludedBy.TYPE.value:
            continue  # no price list applied on the filing day: nothing to charge
        added += _insert_once(
            session,
            request_id=line.request_id,
            organisation_id=line.organisation_id,
            kind=ChargeKind.REQUEST.value,
            state=state,
            code=line.code,
            name_sv=line.name_sv or line.code,
            name_en=line.name_en or line.code,
            unit=line.unit,
            quantity=line.quantity,
            unit_price_ore=line.unit_price_ore,
            discount_bp=line.discount_bp,
            vat_percent=line.vat_percent,
            amount_ore=line.amount_ore,
            vat_ore=line.vat_ore,
            included_by=line.included_by,
            note=line.note,
            reason="",
            price_list_id=line.price_list_id,
            price_item_id=line.price_item_id,
            agreement_id=billing.agreement_id,
            planned_charge_id=line.id,
            invoice_month=month,
            created_at=now,
            created_by_id=actor.id if actor else None,
            dedupe_key=f"planned:{line.id}",
        )
    return added


def _new_line_state(session: Session, billing: RequestBilling, now: datetime) -> tuple[str, Any]:
    if billing.requires_approval and billing.approved_at is None:
        return ChargeState.PROPOSED.value, None
    return ChargeState.FINAL.value, landing_month(session, now)


def landing_month(session: Session, now: datetime) -> Any:
    """The month a line that becomes final now belongs to: this month, or the next open one after it.

    Reads each month's row with a share lock (PostgreSQL), so closing a month waits for lines being written
    into it and a line written after the close sees it closed.
    """
    month = local_month(now)
    while True:
        insert_or_ignore(session, InvoiceMonth, {"month": month}, "month")
        row = session.exec(
            select(InvoiceMonth)
            .where(InvoiceMonth.month == month)
            .with_for_update(read=True)
            .execution_options(populate_existing=True)
        ).one()
        if row.closed_at is None:
            return month
        month = next_month(month)


def insert_or_ignore(session: Session, model: Any, values: dict[str, Any], key: str) -> bool:
    """INSERT … ON CONFLICT (key) DO NOTHING on either backend; True when a row was written."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = model.__table__
    statement = insert(table).values(**values).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
    # RETURNING rather than rowcount: drivers disagree on the rowcount of a skipped row.
    return session.execute(statement).first() is not None


def _insert_once(session: Session, **values: Any) -> int:
    written = insert_or_ignore(session, Charge, values, "dedupe_key")
    return 1 if written else 0


# --- Staff corrections ---------------------------------------------------------------------------------


def _reason(value: str) -> str:
    reason = value.strip()
    if not reason:
        raise ValidationFailed({"reason": [_("Give a reason.")]})
    if len(reason) > MAX_REASON:
        raise ValidationFailed({"reason": [_("Keep the reason under 2,000 characters.")]})
    return reason


def _quantity(value: Any, field: str = "quantity") -> int:
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_QUANTITY:
        raise ValidationFailed({field: [_("Enter a whole number from 1 to %(max)s.", max=MAX_QUANTITY)]})
    return int(text)


def _nonce(value: str) -> str:
    if not NONCE.match(value or ""):
        raise Conflict("The form had expired. Reload the page and try again.")
    return value


def _completed(request: Request) -> None:
    if request.status != Status.COMPLETED:
        raise Conflict("Charges can be changed once the request is completed (a cancelled request is never charged).")


def staff_price_items(session: Session, billing: RequestBilling) -> list[PriceItem]:
    """What staff may add: the items of the price list in force on the day the request was filed."""
    return sorted(price_items_on(session, billing.filed_on).values(), key=lambda item: item.code)


def add_charge(
    session: Session,
    *,
    request: Request,
    request_type: RequestType | None,
    actor: User,
    values: dict[str, str],
    clock: Clock,
) -> bool:
    """Staff add a line from the price list (a fault the customer caused); the agreement's discount applies.

    Returns False when the same form was already handled (a double submission).
    """
    _completed(request)
    billing, _planned = billing_of(session, request, request_type)
    errors: dict[str, list[str]] = {}
    items = {str(item.id): item for item in staff_price_items(session, billing)}
    item = items.get(values.get("price_item_id", "").strip())
    if item is None:
        errors["price_item_id"] = [_("Choose an item of the price list that applied when the request was filed.")]
    quantity = reason = None
    try:
        quantity = _quantity(values.get("quantity", ""))
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        reason = _reason(values.get("reason", ""))
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors or item is None or quantity is None or reason is None:
        raise ValidationFailed(errors)
    nonce = _nonce(values.get("nonce", ""))
    now = clock.now()
    state, month = _new_line_state(session, billing, now)
    amounts = line_amounts(item.unit_price_ore, quantity, billing.discount_bp, item.vat_percent)
    return bool(
        _insert_once(
            session,
            request_id=request.id,
            organisation_id=request.organisation_id,
            kind=ChargeKind.STAFF.value,
            state=state,
            code=item.code,
            name_sv=item.name_sv,
            name_en=item.name_en,
            unit=item.unit,
            quantity=quantity,
            unit_price_ore=item.unit_price_ore,
            discount_bp=billing.discount_bp,
            vat_percent=item.vat_percent,
            amount_ore=amounts.amount_ore,
            vat_ore=amounts.vat_ore,
            included_by=IncludedBy.NOTHING.value,
            note="",
            reason=reason,
            price_list_id=item.price_list_id,
            price_item_id=item.id,
            agreement_id=billing.agreement_id,
            invoice_month=month,
            created_at=now,
            created_by_id=actor.id,
            dedupe_key=f"staff:{request.id}:{nonce}",
        )
    )


def _line_of(session: Session, request: Request, charge_id: int) -> Charge:
    line = session.get(Charge, charge_id)
    if line is None or line.request_id != request.id:
        raise NotFound("There is no such charge line.")
    if line.kind == ChargeKind.CREDIT:
        raise Conflict("A credit cannot be credited or adjusted; adjust the line it credits instead.")
    already = session.exec(select(Charge.id).where(Charge.credits_id == line.id)).first()
    if already is not None:
        raise Conflict("This line has already been credited.")
    return line


def _credit_values(line: Charge, *, actor: User, reason: str, now: datetime, month: Any) -> dict[str, Any]:
    return {
        "request_id": line.request_id,
        "organisation_id": line.organisation_id,
        "kind": ChargeKind.CREDIT.value,
        "state": line.state if line.state == ChargeState.PROPOSED else ChargeState.FINAL.value,
        "code": line.code,
        "name_sv": line.name_sv,
        "name_en": line.name_en,
        "unit": line.unit,
        "quantity": -line.quantity,
        "unit_price_ore": line.unit_price_ore,
        "discount_bp": line.discount_bp,
        "vat_percent": line.vat_percent,
        "amount_ore": -line.amount_ore,
        "vat_ore": -line.vat_ore,
        "included_by": line.included_by,
        "note": line.note,
        "reason": reason,
        "price_list_id": line.price_list_id,
        "price_item_id": line.price_item_id,
        "agreement_id": line.agreement_id,
        "credits_id": line.id,
        "invoice_month": None if line.state == ChargeState.PROPOSED else month,
        "created_at": now,
        "created_by_id": actor.id,
        "dedupe_key": f"credit:{line.id}",
    }


def credit_charge(
    session: Session, *, request: Request, actor: User, charge_id: int, reason: str, clock: Clock
) -> None:
    """Cancel one line exactly with a credit line; a final line's credit lands in the current open month."""
    _completed(request)
    line = _line_of(session, request, charge_id)
    why = _reason(reason)
    now = clock.now()
    month = landing_month(session, now) if line.state == ChargeState.FINAL else None
    if not _insert_once(session, **_credit_values(line, actor=actor, reason=why, now=now, month=month)):
        raise Conflict("This line has already been credited.")


def adjust_charge(
    session: Session,
    *,
    request: Request,
    actor: User,
    charge_id: int,
    values: dict[str, str],
    clock: Clock,
) -> None:
    """Credit a line and write its replacement with another quantity and/or unit price (same item and terms)."""
    _completed(request)
    line = _line_of(session, request, charge_id)
    errors: dict[str, list[str]] = {}
    quantity = unit_price = reason = None
    try:
        quantity = _quantity(values.get("quantity", ""))
    except ValidationFailed as exc:
        errors.update(exc.errors)
    unit_price = parse_money(values.get("unit_price", ""))
    if unit_price is None:
        errors["unit_price"] = [_("Enter an amount in kronor, e.g. 1 250,00 (not negative).")]
    try:
        reason = _reason(values.get("reason", ""))
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors or quantity is None or unit_price is None or reason is None:
        raise ValidationFailed(errors)
    if quantity == line.quantity and unit_price == line.unit_price_ore:
        raise ValidationFailed({"quantity": [_("Change the quantity or the unit price, or credit the line instead.")]})
    now = clock.now()
    month = landing_month(session, now) if line.state == ChargeState.FINAL else None
    if not _insert_once(session, **_credit_values(line, actor=actor, reason=reason, now=now, month=month)):
        raise Conflict("This line has already been credited.")
    amounts = line_amounts(unit_price, quantity, line.discount_bp, line.vat_percent)
    _insert_once(
        session,
        request_id=line.request_id,
        organisation_id=line.organisation_id,
        kind=ChargeKind.ADJUSTMENT.value,
        state=line.state if line.state == ChargeState.PROPOSED else ChargeState.FINAL.value,
        code=line.code,
        name_sv=line.name_sv,
        name_en=line.name_en,
        unit=line.unit,
        quantity=quantity,
        unit_price_ore=unit_price,
        discount_bp=line.discount_bp,
        vat_percent=line.vat_percent,
        amount_ore=amounts.amount_ore,
        vat_ore=amounts.vat_ore,
        included_by=IncludedBy.NOTHING.value,
        note=line.note,
        reason=reason,
        price_list_id=line.price_list_id,
        price_item_id=line.price_item_id,
        agreement_id=line.agreement_id,
        replaces_id=line.id,
        invoice_month=month,
        created_at=now,
        created_by_id=actor.id,
        dedupe_key=f"adjust:{line.id}",
    )


def approve_charges(session: Session, *, request: Request, actor: User, clock: Clock) -> int:
    """Staff approve the request's proposed lines: they become final in the month of the approval."""
    _completed(request)
    billing = session.get(RequestBilling, request.id)
    now = clock.now()
    month = landing_month(session, now)
    result = session.execute(
        update(Charge)
        .where(col(Charge.request_id) == request.id, col(Charge.state) == ChargeState.PROPOSED.value)
        .values(state=ChargeState.FINAL.value, invoice_month=month, approved_at=now, approved_by_id=actor.id)
    )
    count = int(result.rowcount)  # type: ignore[attr-defined]
    if count == 0:
        raise Conflict("There are no charges awaiting approval on this request.")
    if billing is not None and billing.approved_at is None:
        billing.approved_at = now
        billing.approved_by_id = actor.id
        session.add(billing)
    session.flush()
    return count


# --- Reading -------------------------------------------------------------------------------------------


@dataclass
class RequestCharges:
    """What a request's page shows about money: the recorded estimate and the charge lines so far."""

    billing: RequestBilling | None
    agreement: Agreement | None
    estimate: Estimate | None
    lines: list[Charge]
    credited: set[int]
    """Ids of lines a credit cancels (they show as credited, and offer no more corrections)."""

    @property
    def totals(self) -> Totals:
        return totals((line.amount_ore, line.vat_ore) for line in self.lines)

    @property
    def proposed(self) -> list[Charge]:
        return [line for line in self.lines if line.state == ChargeState.PROPOSED]

    @property
    def unpriced(self) -> list[str]:
        """Item codes the request gave rise to that no price list covered on the filing day."""
        if self.estimate is None:
            return []
        return [line.code for line in self.estimate.lines if not line.priced]

    def correctable(self, line: Charge) -> bool:
        return line.kind != ChargeKind.CREDIT and line.id not in self.credited


def request_charges(session: Session, request: Request) -> RequestCharges:
    billing = session.get(RequestBilling, request.id)
    agreement = session.get(Agreement, billing.agreement_id) if billing and billing.agreement_id else None
    planned = list(session.exec(select(PlannedCharge).where(PlannedCharge.request_id == request.id)))
    recorded = from_planned(planned, agreement, billing.filed_on) if billing is not None else None
    lines = list(session.exec(select(Charge).where(Charge.request_id == request.id).order_by(col(Charge.id))))
    credited = {line.credits_id for line in lines if line.credits_id is not None}
    return RequestCharges(billing, agreement, recorded, lines, credited)
