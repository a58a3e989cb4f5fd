"""Test helpers: a small world of organisations and users, and a logged-in web client."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from litestar.testing import TestClient

from core.accounts import administration
from core.models import Organisation, System, User
from core.portal import Portal

PASSWORD = "correct-horse-battery"
VALID_FAULT = {
    "location": "Huvudentrén, Storgatan 1",
    "description": "Låset i entrén öppnar inte alltid.",
    "urgency": "normal",
    "contact_name": "Anna Kund",
    "contact_phone": "070-123 45 67",
}


@dataclass
class World:
    org: Organisation
    other_org: Organisation
    system: System
    door_phone: System
    other_system: System
    admin: User
    member: User
    outsider: User
    staff: User
    colleague: User
    staff_admin: User

    def fault(self, **changes: Any) -> dict[str, Any]:
        return {**VALID_FAULT, "system_id": self.system.id, **changes}


def make_world(portal: Portal) -> World:
    clock = portal.clock
    with portal.database.writing() as s:
        office = administration.create_office(
            s, {"name": "Kontor Test", "email": "kontor@bbgruppen.example", "phone": "08-1234500"}
        )
        org = administration.save_organisation(s, {"name": "Brf Testet", "office_id": office.id}, clock=clock)
        other = administration.save_organisation(s, {"name": "Annan AB", "office_id": office.id}, clock=clock)
        hooks = {"hooks": portal.hooks, "clock": clock}
        system = administration.add_system(s, org, {"name": "Passersystem A"}, **hooks)
        door_phone = administration.add_system(s, org, {"name": "Porttelefon A", "kind": "door_phone"}, **hooks)
        other_system = administration.add_system(s, other, {"name": "Passersystem B"}, **hooks)

        def customer(o: Organisation, name: str, email: str, role: str = "member") -> User:
            return administration.create_customer_user(
                s, o, {"name": name, "email": email, "password": PASSWORD, "role": role}, clock=clock
            )

        def staff(name: str, email: str, role: str = "handlaggare") -> User:
            return administration.create_staff_user(
                s, {"name": name, "email": email, "password": PASSWORD, "role": role}, clock=clock
            )

        world = World(
            org=org,
            other_org=other,
            system=system,
            door_phone=door_phone,
            other_system=other_system,
            admin=customer(org, "Anna Admin", "anna@testet.example"),
            member=customer(org, "Maja Medlem", "maja@testet.example"),
            outsider=customer(other, "Olle Utanför", "olle@annan.example"),
            staff=staff("Henrik Handläggare", "henrik@bbgruppen.example"),
            colleague=staff("Klara Kollega", "klara@bbgruppen.example"),
            staff_admin=staff("Alva Admin", "alva@bbgruppen.example", "admin"),
        )
    return world


CSRF = re.compile(r'name="_csrf" value="([^"]*)"')


class WebClient:
    """A Litestar test client that logs in like a browser and adds the CSRF token to forms."""

    def __init__(self, client: TestClient) -> None:  # type: ignore[type-arg]
        self.client = client
        self._csrf = ""

    def get(self, url: str, **kwargs: Any) -> Any:
        response = self.client.get(url, **kwargs)
        found = CSRF.search(response.text) if "text/html" in response.headers.get("content-type", "") else None
        if found:
            self._csrf = found.group(1)
        return response

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if not self._csrf:
            self.get("/login")
        payload = {"_csrf": self._csrf, **(data or {})}
        response = self.client.post(url, data=payload, **kwargs)
        found = CSRF.search(response.text) if "text/html" in response.headers.get("content-type", "") else None
        if found:
            self._csrf = found.group(1)
        return response

    def login(self, email: str, password: str = PASSWORD) -> Any:
        self.get("/login")
        response = self.post("/login", {"email": email, "password": password}, follow_redirects=False)
        self.get("/profile")
        return response
