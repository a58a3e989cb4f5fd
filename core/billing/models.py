"""The billing tables: price lists and items, agreements, the estimate recorded at filing, charge lines, months.

Money is integer öre (SEK / 100) everywhere, excluding VAT unless a name says otherwise. Dates of validity
are Europe/Stockholm calendar days, both ends inclusive (``valid_to`` empty: open-ended). A month is stored
as the date of its first day.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.models import utc_column
from core.platform.i18n import lazy_gettext as _l


class Unit(StrEnum):
    """What one unit of a price item is; the label is shown after a quantity ("10 st")."""

    PIECE = "piece"
    HOUR = "hour"
    SHIPMENT = "shipment"
    MONTH = "month"

    @property
    def label(self) -> str:
        return str(UNIT_LABELS[self])


UNIT_LABELS = {
    Unit.PIECE: _l("pcs"),
    Unit.HOUR: _l("h"),
    Unit.SHIPMENT: _l("shipment"),
    Unit.MONTH: _l("month"),
}


class IncludedBy(StrEnum):
    """Why a line costs nothing: its request type is included, or it used the month's quota."""

    NOTHING = ""
    TYPE = "type"
    QUOTA = "quota"


class ChargeKind(StrEnum):
    REQUEST = "request"
    """Made at completion from the estimate recorded when the request was filed."""
    STAFF = "staff"
    """Added by staff from the price list (a fault found to be the customer's own doing)."""
    CREDIT = "credit"
    """Cancels one earlier line exactly (negative quantity, amount and VAT)."""
    ADJUSTMENT = "adjustment"
    """Replaces a credited line with another quantity or unit price."""

    @property
    def label(self) -> str:
        return str(KIND_LABELS[self])


KIND_LABELS = {
    ChargeKind.REQUEST: _l("Request"),
    ChargeKind.STAFF: _l("Added by staff"),
    ChargeKind.CREDIT: _l("Credit"),
    ChargeKind.ADJUSTMENT: _l("Adjustment"),
}


class ChargeState(StrEnum):
    PROPOSED = "proposed"
    """The agreement wants staff to approve charges first: not on any invoice basis yet."""
    FINAL = "final"
    """On the invoice basis of ``invoice_month``."""

    @property
    def label(self) -> str:
        return str(STATE_LABELS[self])


STATE_LABELS = {ChargeState.PROPOSED: _l("Awaiting approval"), ChargeState.FINAL: _l("Final")}


class PriceList(SQLModel, table=True):
    """Dated price items. For each item code at most one list is in force on any day (checked on save)."""

    __tablename__ = "price_list"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    valid_from: date
    valid_to: date | None = None
    """The last day it applies (inclusive); empty: until further notice."""
    created_at: datetime = utc_column()
    created_by_id: int | None = Field(default=None, foreign_key="user.id")


class PriceItem(SQLModel, table=True):
    """One priced item of a list; never changed once saved (a new price is a new list)."""

    __tablename__ = "price_item"
    __table_args__ = (UniqueConstraint("price_list_id", "code", name="uq_price_item_list_code"),)

    id: int | None = Field(default=None, primary_key=True)
    price_list_id: int = Field(foreign_key="price_list.id", index=True)
    code: str = Field(max_length=40, index=True)
    """Stable identifier request types name in ``charge_items`` (``CHANGE_ORDER``)."""
    name_sv: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    unit: str = Field(max_length=16)
    """A :class:`Unit` value."""
    unit_price_ore: int = Field(sa_type=BigInteger)
    """Price of one unit in öre, excluding VAT; never negative."""
    vat_percent: int
    """25, 12, 6 or 0 (the Swedish rates)."""

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_sv


class Agreement(SQLModel, table=True):
    """What one organisation pays: included types, monthly quotas, a discount, whether staff approve charges.

    At most one agreement of an organisation is in force on any day (checked on save). Nothing but
    ``valid_to`` changes after it is saved, so the estimate recorded with a request stays explainable.
    """

    __table_args__ = (Index("ix_agreement_org_from", "organisation_id", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    valid_from: date
    valid_to: date | None = None
    discount_bp: int = 0
    """Discount in hundredths of a percent (1000 = 10 %), applied to every charged line."""
    requires_approval: bool = False
    """Lines start as proposed and become final when staff approve them."""
    included_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """Request-type keys whose items cost nothing."""
    quotas: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """Item code → units included per calendar month (Europe/Stockholm)."""
    note: str = Field(default="", max_length=300)
    created_at: datetime = utc_column()
    created_by_id: int | None = Field(default=None, foreign_key="user.id")


class RequestBilling(SQLModel, table=True):
    """The billing decision fixed when a request was filed: the day, quota month, agreement and terms."""

    __tablename__ = "request_billing"

    request_id: int = Field(foreign_key="request.id", primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    filed_on: date
    """The Europe/Stockholm day the request was filed: it chooses the price list and the agreement."""
    quota_month: date
    agreement_id: int | None = Field(default=None, foreign_key="agreement.id")
    discount_bp: int = 0
    requires_approval: bool = False
    fingerprint: str = Field(default="", max_length=32)
    """Identifies the estimate the customer saw; filing with another expected fingerprint is refused."""
    created_at: datetime = utc_column()
    approved_at: datetime | None = utc_column(nullable=True)
    approved_by_id: int | None = Field(default=None, foreign_key="user.id")


class PlannedCharge(SQLModel, table=True):
    """One line of the estimate recorded at filing; completion turns each priced one into a charge line.

    Quota use is the sum of ``quantity`` over lines with ``included_by == "quota"`` of the organisation's
    requests filed in the month that are not cancelled.
    """

    __tablename__ = "planned_charge"
    __table_args__ = (
        Index("ix_planned_charge_request", "request_id", "position"),
        Index("ix_planned_charge_quota", "organisation_id", "quota_month", "code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id")
    organisation_id: int = Field(foreign_key="organisation.id")
    quota_month: date
    position: int
    code: str = Field(max_length=40)
    note: str = Field(default="", max_length=200)
    quantity: int
    included_by: str = Field(default="", max_length=8)
    """An :class:`IncludedBy` value."""
    quota_limit: int | None = None
    quota_remaining: int | None = None
    """Units of the quota left this month before this line took its share."""
    price_list_id: int | None = Field(default=None, foreign_key="price_list.id")
    price_item_id: int | None = Field(default=None, foreign_key="price_item.id")
    """Empty: no price list was in force for the code on the day; nothing is charged for the line."""
    name_sv: str = Field(default="", max_length=200)
    name_en: str = Field(default="", max_length=200)
    unit: str = Field(default=Unit.PIECE.value, max_length=16)
    unit_price_ore: int = Field(default=0, sa_type=BigInteger)
    discount_bp: int = 0
    vat_percent: int = 0
    amount_ore: int = Field(default=0, sa_type=BigInteger)
    vat_ore: int = Field(default=0, sa_type=BigInteger)


class Charge(SQLModel, table=True):
    """A charge line (debitering). Its item, quantity and amounts never change once written.

    Corrections are new lines: a credit (``credits_id``) cancelling a line exactly, and for an adjustment a
    replacement (``replaces_id``). A proposed line is approved once, which stamps who, when and the month.
    ``dedupe_key`` makes every writer idempotent: a retried completion or a resubmitted form adds nothing.
    """

    __table_args__ = (
        Index("ix_charge_request", "request_id", "id"),
        Index("ix_charge_invoice", "organisation_id", "invoice_month", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id")
    organisation_id: int = Field(foreign_key="organisation.id")
    kind: str = Field(max_length=16)
    """A :class:`ChargeKind` value."""
    state: str = Field(max_length=16)
    """A :class:`ChargeState` value."""
    code: str = Field(max_length=40)
    name_sv: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    unit: str = Field(max_length=16)
    quantity: int
    """Negative on a credit."""
    unit_price_ore: int = Field(sa_type=BigInteger)
    discount_bp: int = 0
    vat_percent: int
    amount_ore: int = Field(sa_type=BigInteger)
    """Excluding VAT, after the discount, rounded by the one rule in ``core.billing.money``."""
    vat_ore: int = Field(sa_type=BigInteger)
    included_by: str = Field(default="", max_length=8)
    note: str = Field(default="", max_length=200)
    reason: str = Field(default="", max_length=2000)
    """Why staff added, credited or adjusted it (shown to the customer too)."""
    price_list_id: int | None = Field(default=None, foreign_key="price_list.id")
    price_item_id: int | None = Field(default=None, foreign_key="price_item.id")
    agreement_id: int | None = Field(default=None, foreign_key="agreement.id")
    planned_charge_id: int | None = Field(default=None, foreign_key="planned_charge.id")
    credits_id: int | None = Field(default=None, foreign_key="charge.id", unique=True)
    """The line this credit cancels; unique, so a line is credited at most once."""
    replaces_id: int | None = Field(default=None, foreign_key="charge.id")
    invoice_month: date | None = None
    """The month whose invoice basis holds it; empty while proposed."""
    created_at: datetime = utc_column()
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    approved_at: datetime | None = utc_column(nullable=True)
    approved_by_id: int | None = Field(default=None, foreign_key="user.id")
    dedupe_key: str = Field(max_length=80, unique=True)

    @property
    def total_ore(self) -> int:
        return self.amount_ore + self.vat_ore

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_sv


class InvoiceMonth(SQLModel, table=True):
    """A month of the invoice basis; once closed, none of its lines changes and new lines land later."""

    __tablename__ = "invoice_month"

    month: date = Field(primary_key=True)
    closed_at: datetime | None = utc_column(nullable=True)
    closed_by_id: int | None = Field(default=None, foreign_key="user.id")


__all__ = [
    "Agreement",
    "Charge",
    "ChargeKind",
    "ChargeState",
    "IncludedBy",
    "InvoiceMonth",
    "PlannedCharge",
    "PriceItem",
    "PriceList",
    "RequestBilling",
    "Unit",
]
