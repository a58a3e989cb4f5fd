"""The invoice basis: final charge lines per organisation and month, their totals, the CSV, closing a month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from core.billing.models import Charge, ChargeKind, ChargeState, InvoiceMonth, Unit
from core.billing.money import Totals, csv_amount, totals
from core.billing.periods import local_day, local_month, month_key
from core.billing.recording import insert_or_ignore
from core.models import Organisation, Request, User
from core.platform import csv_export
from core.platform.clock import Clock
from core.platform.errors import Conflict, NotFound
from core.platform.i18n import current_language
from core.platform.i18n import gettext as _


@dataclass
class BasisLine:
    charge: Charge
    request_number: str

    @property
    def final_on(self) -> date:
        """The day the line became final (its approval, or its creation when no approval was needed)."""
        return local_day(self.charge.approved_at or self.charge.created_at)


@dataclass
class InvoiceBasis:
    organisation: Organisation
    month: date
    lines: list[BasisLine]
    closed: InvoiceMonth | None
    """The month's row when it is closed, else None."""

    @property
    def totals(self) -> Totals:
        return totals((line.charge.amount_ore, line.charge.vat_ore) for line in self.lines)

    @property
    def key(self) -> str:
        return month_key(self.month)


def closed_month(session: Session, month: date) -> InvoiceMonth | None:
    row = session.get(InvoiceMonth, month)
    return row if row is not None and row.closed_at is not None else None


def invoice_basis(session: Session, organisation_id: int, month: date) -> InvoiceBasis:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("There is no such organisation.")
    rows = session.exec(
        select(Charge, Request.id)
        .join(Request, col(Charge.request_id) == col(Request.id))
        .where(
            Charge.organisation_id == organisation_id,
            Charge.invoice_month == month,
            Charge.state == ChargeState.FINAL.value,
        )
        .order_by(col(Charge.id))
    ).all()
    lines = [BasisLine(charge, f"BB-{request_id}") for charge, request_id in rows]
    return InvoiceBasis(organisation, month, lines, closed_month(session, month))


@dataclass
class OverviewRow:
    organisation: Organisation
    line_count: int
    totals: Totals


def month_overview(session: Session, month: date) -> list[OverviewRow]:
    """Every organisation with final lines in ``month``, with its totals."""
    rows = session.exec(
        select(
            Organisation,
            func.count(col(Charge.id)),
            func.coalesce(func.sum(Charge.amount_ore), 0),
            func.coalesce(func.sum(Charge.vat_ore), 0),
        )
        .join(Charge, col(Charge.organisation_id) == col(Organisation.id))
        .where(Charge.invoice_month == month, Charge.state == ChargeState.FINAL.value)
        .group_by(col(Organisation.id))
        .order_by(col(Organisation.name))
    ).all()
    return [OverviewRow(org, int(count), Totals(int(amount), int(vat))) for org, count, amount, vat in rows]


def awaiting_approval(session: Session) -> int:
    """Lines proposed and not yet approved, over all organisations (they belong to no month yet)."""
    return int(
        session.exec(select(func.count()).select_from(Charge).where(Charge.state == ChargeState.PROPOSED.value)).one()
    )


def close_month(session: Session, month: date, *, actor: User, clock: Clock) -> InvoiceMonth:
    """Close an ended month: its lines never change again, and lines that become final later land after it."""
    if month >= local_month(clock.now()):
        raise Conflict("A month can be closed once it has ended.")
    insert_or_ignore(session, InvoiceMonth, {"month": month}, "month")
    now = clock.now()
    result = session.execute(
        update(InvoiceMonth)
        .where(col(InvoiceMonth.month) == month, col(InvoiceMonth.closed_at).is_(None))
        .values(closed_at=now, closed_by_id=actor.id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise Conflict("That month is already closed.")
    row = session.get(InvoiceMonth, month, populate_existing=True)
    assert row is not None
    return row


def _unit(value: str) -> str:
    return Unit(value).label if value in Unit._value2member_map_ else value


def csv_text(basis: InvoiceBasis) -> str:
    """The basis as CSV (``core.platform.csv_export``: ``;``, CRLF, UTF-8 with BOM, no formulas), decimal comma.

    Headers are in the viewer's language; numbers are always written the Swedish way, which is what
    Swedish accounting software and Excel with Swedish settings read. The last row holds the totals.
    Organisation names, notes and reasons are text people typed: the helper defuses any that looks like a
    formula.
    """
    header = [
        _("Month"),
        _("Organisation"),
        _("Organisation number"),
        _("Request"),
        _("Final on"),
        _("Item code"),
        _("Item"),
        _("Note"),
        _("Quantity"),
        _("Unit"),
        _("Unit price (SEK)"),
        _("Discount (%)"),
        _("Amount excl. VAT (SEK)"),
        _("VAT rate (%)"),
        _("VAT (SEK)"),
        _("Amount incl. VAT (SEK)"),
        _("Kind"),
        _("Reason"),
    ]
    language = current_language()
    rows: list[list[str]] = []
    for line in basis.lines:
        charge = line.charge
        rows.append(
            [
                basis.key,
                basis.organisation.name,
                basis.organisation.org_number,
                line.request_number,
                line.final_on.isoformat(),
                charge.code,
                charge.name(language),
                _(charge.note) if charge.note else "",  # a type's note is a msgid (the order's tag type)
                str(charge.quantity),
                _unit(charge.unit),
                csv_amount(charge.unit_price_ore),
                csv_amount(charge.discount_bp),
                csv_amount(charge.amount_ore),
                str(charge.vat_percent),
                csv_amount(charge.vat_ore),
                csv_amount(charge.total_ore),
                ChargeKind(charge.kind).label,
                charge.reason,
            ]
        )
    sums = basis.totals
    rows.append(
        [
            basis.key,
            basis.organisation.name,
            basis.organisation.org_number,
            _("Total"),
            *[""] * 8,
            csv_amount(sums.amount_ore),
            "",
            csv_amount(sums.vat_ore),
            csv_amount(sums.total_ore),
            "",
            "",
        ]
    )
    return csv_export.csv_text(header, rows)


def csv_filename(basis: InvoiceBasis) -> str:
    reference = "".join(ch for ch in basis.organisation.org_number if ch.isdigit()) or str(basis.organisation.id)
    return f"fakturaunderlag-{reference}-{basis.key}.csv"
