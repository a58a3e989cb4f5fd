"""Demo data for the embedded default: an office, stores, two organisations with systems, users and staff."""

from __future__ import annotations

from dataclasses import dataclass

import pluggy
from sqlalchemy import func
from sqlmodel import Session, select

from core import administration
from core.clock import Clock
from core.models import Organisation, User


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
