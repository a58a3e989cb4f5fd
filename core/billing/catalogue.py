"""Keeping price lists and agreements: input models, the overlap rules, and what may change once saved.

Price lists and agreements are never edited: a new price is a new list, new terms a new agreement. The one
thing that changes is the last day (``valid_to``), which can end a list or agreement (not before today:
requests filed up to today were priced under it) or move its end, as long as nothing then overlaps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from core.billing.models import Agreement, PriceItem, PriceList, Unit
from core.billing.money import BASIS_POINTS, parse_money, parse_percent
from core.billing.periods import overlaps
from core.models import Organisation, User
from core.platform.clock import Clock, local_today
from core.platform.errors import NotFound, ValidationFailed
from core.platform.i18n import N_
from core.platform.i18n import gettext as _
from core.requests.forms import error_paths
from core.requests.request_types import CHARGE_CODE

VAT_RATES = (25, 12, 6, 0)
"""The Swedish VAT rates, in percent."""
PRICE_ROWS = 8
"""Empty item rows on a new price-list form (the form can ask for more)."""
QUOTA_ROWS = 4


def _date_text(day: date | None) -> str:
    return day.isoformat() if day else "–"


class _Input(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")


class PriceItemInput(_Input):
    code: str = Field(min_length=1, max_length=40)
    name_sv: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    unit: Unit
    unit_price_ore: int = Field(ge=0)
    vat_percent: int

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        code = value.upper()
        if not CHARGE_CODE.match(code):
            raise ValueError(N_("Use 2–40 capital letters, digits and _, starting with a letter (e.g. CHANGE_ORDER)."))
        return code

    @field_validator("vat_percent")
    @classmethod
    def _vat(cls, value: int) -> int:
        if value not in VAT_RATES:
            raise ValueError(N_("Choose one of the Swedish VAT rates: 25, 12, 6 or 0 %."))
        return value


class PriceListInput(_Input):
    name: str = Field(min_length=1, max_length=120)
    valid_from: date
    valid_to: date | None = None


def _parse(model: type[BaseModel], data: Mapping[str, Any], prefix: str = "") -> tuple[Any, dict[str, list[str]]]:
    try:
        return model.model_validate(dict(data)), {}
    except ValidationError as exc:
        return None, {f"{prefix}{path}": messages for path, messages in error_paths([], exc).items()}


def _validity_errors(valid_from: date | None, valid_to: date | None) -> dict[str, list[str]]:
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        return {"valid_to": [_("The last day cannot be before the first day.")]}
    return {}


@dataclass
class ItemRow:
    """One row of the price-list form, as typed (re-shown with its errors)."""

    index: int
    values: dict[str, str]

    def name(self, field: str) -> str:
        return f"items-{self.index}-{field}"

    @property
    def empty(self) -> bool:
        """Nothing typed: the unit and VAT selects always send something, so they do not count."""
        return not any(self.values[field].strip() for field in ("code", "name_sv", "name_en", "unit_price"))


ITEM_FIELDS = ("code", "name_sv", "name_en", "unit", "unit_price", "vat_percent")
ITEM_LABELS = {
    "code": N_("Code"),
    "name_sv": N_("Name in Swedish"),
    "name_en": N_("Name in English"),
    "unit": N_("Unit"),
    "unit_price": N_("Price excl. VAT (kr)"),
    "vat_percent": N_("VAT"),
}


def item_rows(form: Mapping[str, str], minimum: int = PRICE_ROWS) -> list[ItemRow]:
    """The item rows a price-list form sent (``items-<n>-<field>``), plus empty ones up to ``minimum``."""
    indexes = set()
    for key in form:
        parts = key.split("-")
        if len(parts) == 3 and parts[0] == "items" and parts[1].isdigit() and int(parts[1]) < 200:
            indexes.add(int(parts[1]))
    count = max(minimum, max(indexes) + 1 if indexes else 0)
    return [ItemRow(i, {f: form.get(f"items-{i}-{f}", "") for f in ITEM_FIELDS}) for i in range(count)]


def create_price_list(session: Session, form: Mapping[str, str], *, actor: User | None, clock: Clock) -> PriceList:
    """Validate the whole form (list and every filled row) and save it, or raise with every error by field."""
    header, errors = _parse(
        PriceListInput, {k: v for k, v in form.items() if k in ("name", "valid_from", "valid_to") and v.strip()}
    )
    if header is not None:
        errors.update(_validity_errors(header.valid_from, header.valid_to))
    items: list[tuple[ItemRow, PriceItemInput]] = []
    for row in item_rows(form, minimum=0):
        if row.empty:
            continue
        price = parse_money(row.values["unit_price"]) if row.values["unit_price"].strip() else None
        values: dict[str, Any] = {k: v for k, v in row.values.items() if k != "unit_price" and v.strip()}
        if price is not None:
            values["unit_price_ore"] = price
        parsed, row_errors = _parse(PriceItemInput, values, prefix=f"items-{row.index}-")
        row_errors.pop(row.name("unit_price_ore"), None)
        if price is None:
            row_errors[row.name("unit_price")] = [
                _("Enter the price in kronor excluding VAT, e.g. 1 250,00 (not negative).")
                if row.values["unit_price"].strip()
                else _("This field is required.")
            ]
        errors.update(row_errors)
        if parsed is not None:
            items.append((row, parsed))
    if not items and not any(key.startswith("items-") for key in errors):
        errors["items-0-code"] = [_("Add at least one item.")]
    seen: dict[str, int] = {}
    for row, item in items:
        if item.code in seen:
            errors.setdefault(row.name("code"), []).append(_("This code is already on the list."))
        seen.setdefault(item.code, row.index)
    if header is not None:
        for code, message in _item_overlaps(session, seen, header.valid_from, header.valid_to).items():
            errors.setdefault(f"items-{seen[code]}-code", []).append(message)
    if errors or header is None:
        raise ValidationFailed(errors)
    price_list = PriceList(
        name=header.name,
        valid_from=header.valid_from,
        valid_to=header.valid_to,
        created_at=clock.now(),
        created_by_id=actor.id if actor else None,
    )
    session.add(price_list)
    session.flush()
    for _row, item in items:
        session.add(PriceItem(price_list_id=price_list.id, **item.model_dump()))  # type: ignore[arg-type]
    session.flush()
    return price_list


def _item_overlaps(
    session: Session, codes: Iterable[str], valid_from: date, valid_to: date | None, *, skip_list: int | None = None
) -> dict[str, str]:
    """Code → message, for each code another list prices on a day of the given period."""
    wanted = list(codes)
    if not wanted:
        return {}
    rows = session.exec(
        select(PriceItem.code, PriceList)
        .join(PriceList, col(PriceItem.price_list_id) == col(PriceList.id))
        .where(col(PriceItem.code).in_(wanted))
    ).all()
    found: dict[str, str] = {}
    for code, other in rows:
        if other.id == skip_list or code in found:
            continue
        if overlaps(valid_from, valid_to, other.valid_from, other.valid_to):
            found[code] = _(
                "%(code)s is already priced by %(list)s (%(start)s – %(end)s) in that period. "
                "End that list first or start this one later.",
                code=code,
                list=other.name,
                start=_date_text(other.valid_from),
                end=_date_text(other.valid_to),
            )
    return found


def _new_last_day(text: str, valid_from: date, clock: Clock) -> date | None:
    """The last day an admin may set: empty (open-ended), or a date from max(first day, today) on."""
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    try:
        day = date.fromisoformat(cleaned)
    except ValueError:
        raise ValidationFailed({"valid_to": [_("Enter a date as YYYY-MM-DD.")]}) from None
    earliest = max(valid_from, local_today(clock))
    if day < earliest:
        raise ValidationFailed(
            {
                "valid_to": [
                    _(
                        "Choose %(earliest)s or later: requests filed until today were priced under it.",
                        earliest=earliest.isoformat(),
                    )
                ]
            }
        )
    return day


def set_price_list_end(session: Session, price_list_id: int, text: str, *, clock: Clock) -> PriceList:
    price_list = session.get(PriceList, price_list_id)
    if price_list is None:
        raise NotFound("There is no such price list.")
    last_day = _new_last_day(text, price_list.valid_from, clock)
    codes = session.exec(select(PriceItem.code).where(PriceItem.price_list_id == price_list_id)).all()
    clashes = _item_overlaps(session, codes, price_list.valid_from, last_day, skip_list=price_list_id)
    if clashes:
        raise ValidationFailed({"valid_to": list(clashes.values())})
    price_list.valid_to = last_day
    session.add(price_list)
    session.flush()
    return price_list


def known_codes(session: Session) -> list[str]:
    """Every item code some price list has (quotas may only name these)."""
    return sorted(set(session.exec(select(PriceItem.code)).all()))


class AgreementInput(_Input):
    valid_from: date
    valid_to: date | None = None
    discount_bp: int = Field(default=0, ge=0, le=BASIS_POINTS)
    requires_approval: bool = False
    included_types: list[str] = Field(default_factory=list)
    quotas: dict[str, int] = Field(default_factory=dict)
    note: str = Field(default="", max_length=300)


def quota_rows(form: Mapping[str, str], minimum: int = QUOTA_ROWS) -> list[dict[str, str]]:
    indexes = set()
    for key in form:
        parts = key.split("-")
        if len(parts) == 3 and parts[0] == "quota" and parts[1].isdigit() and int(parts[1]) < 50:
            indexes.add(int(parts[1]))
    count = max(minimum, max(indexes) + 1 if indexes else 0)
    return [
        {"index": str(i), "code": form.get(f"quota-{i}-code", ""), "per_month": form.get(f"quota-{i}-per_month", "")}
        for i in range(count)
    ]


def create_agreement(
    session: Session,
    organisation: Organisation,
    form: Mapping[str, str],
    included_types: list[str],
    *,
    type_keys: Iterable[str],
    actor: User | None,
    clock: Clock,
) -> Agreement:
    """Validate and save an organisation's agreement; periods of one organisation's agreements never overlap."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {k: form[k] for k in ("valid_from", "valid_to", "note") if form.get(k, "").strip()}
    discount_text = form.get("discount", "").strip()
    if discount_text:
        discount = parse_percent(discount_text)
        if discount is None or discount > BASIS_POINTS:
            errors["discount"] = [_("Enter a percentage from 0 to 100, e.g. 10 or 12,5.")]
        else:
            values["discount_bp"] = discount
    values["requires_approval"] = form.get("requires_approval", "") in ("on", "true", "1", "yes")
    allowed = set(type_keys)
    unknown = [key for key in included_types if key not in allowed]
    if unknown:
        errors["included_types"] = [_("Choose among the installed request types.")]
    values["included_types"] = sorted({key for key in included_types if key in allowed})
    codes = set(known_codes(session))
    quotas: dict[str, int] = {}
    for row in quota_rows(form, minimum=0):
        code, count = row["code"].strip().upper(), row["per_month"].strip()
        if not code and not count:
            continue
        prefix = f"quota-{row['index']}-"
        if code not in codes:
            errors[prefix + "code"] = [_("No price list has an item with this code.")]
        elif code in quotas:
            errors[prefix + "code"] = [_("This code already has a quota.")]
        if not (count.isascii() and count.isdigit()) or not 1 <= int(count) <= 10_000:
            errors[prefix + "per_month"] = [_("Enter a whole number from 1 to %(max)s.", max=10_000)]
        elif code in codes:
            quotas[code] = int(count)
    values["quotas"] = quotas
    parsed, parse_errors = _parse(AgreementInput, values)
    errors.update({("discount" if k == "discount_bp" else k): v for k, v in parse_errors.items()})
    if parsed is not None:
        errors.update(_validity_errors(parsed.valid_from, parsed.valid_to))
        clash = _agreement_overlap(session, organisation.id or 0, parsed.valid_from, parsed.valid_to)
        if clash:
            errors.setdefault("valid_from", []).append(clash)
    if errors or parsed is None:
        raise ValidationFailed(errors)
    agreement = Agreement(
        organisation_id=organisation.id,  # type: ignore[arg-type]
        **parsed.model_dump(),
        created_at=clock.now(),
        created_by_id=actor.id if actor else None,
    )
    session.add(agreement)
    session.flush()
    return agreement


def _agreement_overlap(
    session: Session, organisation_id: int, valid_from: date, valid_to: date | None, *, skip: int | None = None
) -> str:
    for other in session.exec(select(Agreement).where(Agreement.organisation_id == organisation_id)):
        if other.id != skip and overlaps(valid_from, valid_to, other.valid_from, other.valid_to):
            return _(
                "The organisation already has an agreement for %(start)s – %(end)s. "
                "End that one first or start this one later.",
                start=_date_text(other.valid_from),
                end=_date_text(other.valid_to),
            )
    return ""


def set_agreement_end(session: Session, agreement_id: int, text: str, *, clock: Clock) -> Agreement:
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound("There is no such agreement.")
    last_day = _new_last_day(text, agreement.valid_from, clock)
    clash = _agreement_overlap(session, agreement.organisation_id, agreement.valid_from, last_day, skip=agreement.id)
    if clash:
        raise ValidationFailed({"valid_to": [clash]})
    agreement.valid_to = last_day
    session.add(agreement)
    session.flush()
    return agreement


def price_lists(session: Session) -> list[tuple[PriceList, int]]:
    """Every list, newest first, with its number of items."""
    lists = list(session.exec(select(PriceList).order_by(col(PriceList.valid_from).desc(), col(PriceList.id).desc())))
    counts: dict[int, int] = {}
    for list_id in session.exec(select(PriceItem.price_list_id)).all():
        counts[list_id] = counts.get(list_id, 0) + 1
    return [(price_list, counts.get(price_list.id or 0, 0)) for price_list in lists]


def items_of(session: Session, price_list_id: int) -> list[PriceItem]:
    return list(
        session.exec(select(PriceItem).where(PriceItem.price_list_id == price_list_id).order_by(col(PriceItem.code)))
    )


def agreements_of(session: Session, organisation_id: int) -> list[Agreement]:
    return list(
        session.exec(
            select(Agreement)
            .where(Agreement.organisation_id == organisation_id)
            .order_by(col(Agreement.valid_from).desc())
        )
    )
