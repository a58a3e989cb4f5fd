"""Test helpers for billing: a price list and agreements saved through the same validation the admin pages use."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from core.billing import catalogue
from core.billing.models import Agreement, Charge, PriceList
from core.models import Organisation, Request, User
from core.portal import Portal
from core.requests.lifecycle import Action
from core.workflow import actions as workflow

PRICES = {
    # code: (Swedish name, English name, unit, kronor, VAT %)
    "TAG": ("Tagg", "Tag", "piece", "120,00", "25"),
    "POSTAGE": ("Porto", "Postage", "shipment", "50,00", "25"),
    "CHANGE_ORDER": ("Ändringsbeställning", "Change order", "piece", "450,00", "25"),
    "FAULT_CUSTOMER": ("Felanmälan orsakad av kund", "Fault caused by the customer", "hour", "950,00", "25"),
    "PARKING_PERMIT": ("Parkeringstillstånd", "Parking permit", "month", "300,00", "25"),
}


def price_form(
    name: str = "Prislista 2026",
    valid_from: str = "2026-01-01",
    valid_to: str = "",
    prices: dict[str, tuple[str, str, str, str, str]] | None = None,
) -> dict[str, str]:
    form = {"name": name, "valid_from": valid_from, "valid_to": valid_to}
    for index, (code, (name_sv, name_en, unit, price, vat)) in enumerate((prices or PRICES).items()):
        form.update(
            {
                f"items-{index}-code": code,
                f"items-{index}-name_sv": name_sv,
                f"items-{index}-name_en": name_en,
                f"items-{index}-unit": unit,
                f"items-{index}-unit_price": price,
                f"items-{index}-vat_percent": vat,
            }
        )
    return form


def seed_prices(portal: Portal, **kwargs: Any) -> PriceList:
    with portal.database.writing() as session:
        return catalogue.create_price_list(session, price_form(**kwargs), actor=None, clock=portal.clock)


def seed_agreement(
    portal: Portal,
    organisation: Organisation,
    *,
    valid_from: str = "2026-01-01",
    valid_to: str = "",
    discount: str = "",
    quotas: dict[str, int] | None = None,
    included: list[str] | None = None,
    approval: bool = False,
) -> Agreement:
    form = {"valid_from": valid_from, "valid_to": valid_to, "discount": discount}
    for index, (code, count) in enumerate((quotas or {}).items()):
        form[f"quota-{index}-code"] = code
        form[f"quota-{index}-per_month"] = str(count)
    if approval:
        form["requires_approval"] = "on"
    with portal.database.writing() as session:
        return catalogue.create_agreement(
            session,
            organisation,
            form,
            included or [],
            type_keys=[t.key for t in portal.registry],
            actor=None,
            clock=portal.clock,
        )


def complete(portal: Portal, staff: User, request_id: int) -> Request:
    workflow.perform(portal, staff, request_id, Action.TAKE)
    return workflow.perform(portal, staff, request_id, Action.COMPLETE)


def charges(portal: Portal, request_id: int | None = None) -> list[Charge]:
    with portal.database.reading() as session:
        query = select(Charge).order_by(col(Charge.id))
        if request_id is not None:
            query = query.where(Charge.request_id == request_id)
        return list(session.exec(query))
