"""The demo world a plugin's tests run in: two organisations, their systems, customers and staff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.accounts import administration
from core.views import OrganisationView, SystemView, UserView

if TYPE_CHECKING:
    from core.models import Organisation, System, User
    from core.portal import Portal

PASSWORD = "correct-horse-battery"
"""Every world user's password (``web.login(world.admin.email)`` uses it)."""


@dataclass(frozen=True)
class World:
    """Who and what a test works with, as read-only views.

    ``org`` has an access-control system (``system``, with the simulator's holders, tags, doors and groups)
    and a door phone (``door_phone``); its users are ``admin`` (an administrator) and ``member``. ``other_org``
    has ``other_system`` and ``outsider``: for checks that nothing crosses between organisations. ``staff``
    and ``colleague`` are handläggare, ``staff_admin`` is a BBGRUPPEN administrator.
    """

    org: OrganisationView
    other_org: OrganisationView
    system: SystemView
    door_phone: SystemView
    other_system: SystemView
    admin: UserView
    member: UserView
    outsider: UserView
    staff: UserView
    colleague: UserView
    staff_admin: UserView


@dataclass
class WorldRows:
    """The same world as the core's rows: for the core's own tests, which drive core internals with them."""

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

    def views(self) -> World:
        return World(
            org=OrganisationView.of(self.org),
            other_org=OrganisationView.of(self.other_org),
            system=SystemView.of(self.system),
            door_phone=SystemView.of(self.door_phone),
            other_system=SystemView.of(self.other_system),
            admin=UserView.of(self.admin),
            member=UserView.of(self.member),
            outsider=UserView.of(self.outsider),
            staff=UserView.of(self.staff),
            colleague=UserView.of(self.colleague),
            staff_admin=UserView.of(self.staff_admin),
        )


def create_world_rows(portal: Portal) -> WorldRows:
    """Write the world into the portal's database (through the administration services, as staff would)."""
    clock = portal.clock
    with portal.database.writing() as s:
        office = administration.create_office(
            s, {"name": "Kontor Test", "email": "kontor@bbgruppen.example", "phone": "08-1234500"}
        )
        org = administration.save_organisation(s, {"name": "Brf Testet", "office_id": office.id}, clock=clock)
        other = administration.save_organisation(s, {"name": "Annan AB", "office_id": office.id}, clock=clock)
        hooks: dict[str, Any] = {"hooks": portal.hooks, "clock": clock}
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

        return WorldRows(
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


def make_world(portal: Portal) -> World:
    return create_world_rows(portal).views()
