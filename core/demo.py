"""Demo data for the embedded default: an office, stores, two organisations with systems, users and staff."""

from __future__ import annotations

from dataclasses import dataclass

import pluggy
from sqlalchemy import func
from sqlmodel import Session, select

from core.accounts import administration
from core.billing import catalogue
from core.models import Organisation, User
from core.platform.clock import Clock


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str


DEMO_PASSWORD = "demo-portal-2026"
DEMO_LOGINS = (
    DemoLogin("customer (administrator)", "anna.kund@solglantan.example", DEMO_PASSWORD),
    DemoLogin("customer (member)", "erik.medlem@solglantan.example", DEMO_PASSWORD),
    DemoLogin("staff (handläggare)", "handlaggare@bbgruppen.example", DEMO_PASSWORD),
    DemoLogin("staff (admin)", "admin@bbgruppen.example", DEMO_PASSWORD),
)


def has_data(session: Session) -> bool:
    return bool(session.exec(select(func.count()).select_from(User)).one())


def load(session: Session, clock: Clock, hooks: pluggy.HookRelay | None = None) -> None:
    """Idempotent: does nothing when the organisations already exist."""
    if session.exec(select(Organisation).where(Organisation.name == "Brf Solgläntan")).first():
        return
    stockholm = administration.create_office(
        session,
        {
            "name": "BBGRUPPEN Stockholm",
            "email": "stockholm@bbgruppen.example",
            "phone": "08-123 456 00",
            "address": "Hantverkargatan 10, 112 21 Stockholm",
        },
    )
    gothenburg = administration.create_office(
        session,
        {
            "name": "BBGRUPPEN Göteborg",
            "email": "goteborg@bbgruppen.example",
            "phone": "031-123 456 00",
            "address": "Första Långgatan 5, 413 03 Göteborg",
        },
    )
    for store in (
        {
            "name": "BBGRUPPEN Butik Kungsholmen",
            "address": "Fleminggatan 20, Stockholm",
            "opening_hours": "Mån–fre 9–17",
        },
        {"name": "BBGRUPPEN Butik Södermalm", "address": "Götgatan 30, Stockholm", "opening_hours": "Mån–fre 10–18"},
        {
            "name": "BBGRUPPEN Butik Göteborg",
            "address": "Första Långgatan 5, Göteborg",
            "opening_hours": "Mån–fre 9–16",
        },
    ):
        administration.create_store(session, store)

    solglantan = administration.save_organisation(
        session, {"name": "Brf Solgläntan", "org_number": "769600-1234", "office_id": stockholm.id}, clock=clock
    )
    administration.add_system(
        session,
        solglantan,
        {"name": "Passersystem Solgläntan", "kind": "access_control", "identifier": "SOL-AC-01"},
        hooks=hooks,
        clock=clock,
    )
    administration.add_system(
        session,
        solglantan,
        {"name": "Porttelefon Solgläntan", "kind": "door_phone", "identifier": "SOL-DP-01"},
        hooks=hooks,
        clock=clock,
    )
    administration.create_customer_user(
        session,
        solglantan,
        {"name": "Anna Kund", "email": DEMO_LOGINS[0].email, "password": DEMO_PASSWORD, "language": "sv"},
        clock=clock,
    )
    administration.create_customer_user(
        session,
        solglantan,
        {
            "name": "Erik Medlem",
            "email": DEMO_LOGINS[1].email,
            "password": DEMO_PASSWORD,
            "role": "member",
            "language": "sv",
        },
        clock=clock,
    )

    hamnen = administration.save_organisation(
        session,
        {"name": "Hamnens Fastigheter AB", "org_number": "556677-8899", "office_id": gothenburg.id},
        clock=clock,
    )
    administration.add_system(
        session,
        hamnen,
        {"name": "Passersystem Hamnen", "kind": "access_control", "identifier": "HAM-AC-01"},
        hooks=hooks,
        clock=clock,
    )
    administration.create_customer_user(
        session,
        hamnen,
        {"name": "Hanna Hamn", "email": "hanna@hamnen.example", "password": DEMO_PASSWORD, "language": "en"},
        clock=clock,
    )

    _billing(session, clock, solglantan, hamnen)

    administration.create_staff_user(
        session,
        {"name": "Henrik Handläggare", "email": DEMO_LOGINS[2].email, "password": DEMO_PASSWORD, "role": "handlaggare"},
        clock=clock,
    )
    administration.create_staff_user(
        session,
        {"name": "Alva Admin", "email": DEMO_LOGINS[3].email, "password": DEMO_PASSWORD, "role": "admin"},
        clock=clock,
    )


DEMO_PRICES = (
    # code, Swedish name, English name, unit, price in kronor excluding VAT, VAT %
    ("CHANGE_ORDER", "Ändringsbeställning", "Change order", "piece", "450,00", "25"),
    ("TAG", "Tagg", "Tag", "piece", "120,00", "25"),
    ("POSTAGE", "Porto", "Postage", "shipment", "50,00", "25"),
    ("TAG_BLOCK", "Spärr av tagg", "Tag block", "piece", "150,00", "25"),
    ("EXTRACT", "Utdrag eller logg", "Extract or log", "piece", "350,00", "25"),
    (
        "FAULT_CUSTOMER",
        "Felanmälan orsakad av kund (per påbörjad timme)",
        "Fault caused by the customer (per started hour)",
        "hour",
        "950,00",
        "25",
    ),
)


def _billing(session: Session, clock: Clock, solglantan: Organisation, hamnen: Organisation) -> None:
    """The 2026 price list and an agreement for each demo organisation (docs/billing.md explains them)."""
    form = {"name": "Prislista 2026", "valid_from": "2026-01-01"}
    for index, (code, name_sv, name_en, unit, price, vat) in enumerate(DEMO_PRICES):
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
    catalogue.create_price_list(session, form, actor=None, clock=clock)
    catalogue.create_agreement(
        session,
        solglantan,
        {
            "valid_from": "2026-01-01",
            "discount": "10",
            "quota-0-code": "CHANGE_ORDER",
            "quota-0-per_month": "5",
            "note": "Ramavtal 2026: fem ändringsbeställningar i månaden ingår, 10 % rabatt.",
        },
        [],
        type_keys=[],
        actor=None,
        clock=clock,
    )
    # Included types name request-type keys; the suggestion type may be installed later than the demo data.
    hamnen_included = ["fault_report", "suggestion"]
    catalogue.create_agreement(
        session,
        hamnen,
        {
            "valid_from": "2026-01-01",
            "requires_approval": "on",
            "note": "Felanmälningar och förslag ingår; debiteringar godkänns av handläggare.",
        },
        hamnen_included,
        type_keys=hamnen_included,
        actor=None,
        clock=clock,
    )
