"""Setting a simulated system up with deterministic Swedish demo data, and loading synthetic events in bulk."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, update
from sqlmodel import Session, col, select

from core.access_control import EventKind, HolderKind, TagState
from core.access_control.simulator.adapter import Fault
from core.access_control.simulator.tables import (
    AcsAccessGroup,
    AcsDoor,
    AcsDoorPhoneEntry,
    AcsEvent,
    AcsGroupDoor,
    AcsHolder,
    AcsHolderGroup,
    AcsServiceAccount,
    AcsSystem,
    AcsSystemUser,
    AcsTag,
)
from core.models import System
from core.platform.clock import Clock
from core.platform.db import Database

LOG_DAYS = 60
LOG_EVENTS = 2000

STREETS = ("Storgatan", "Solgläntevägen", "Kungsgatan", "Hamngatan", "Björkvägen", "Ekbacksgatan", "Sjövägen")
OPTIONAL_DOORS = (
    "Garage",
    "Tvättstuga",
    "Soprum",
    "Källare",
    "Cykelrum",
    "Gården",
    "Förråd",
    "Lokalentré",
    "Bastu",
    "Samlingslokal",
)
SURNAMES = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson",
    "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson", "Jönsson", "Lindberg", "Jakobsson",
    "Magnusson", "Lindström", "Olofsson", "Lindqvist", "Lindgren", "Berg", "Axelsson", "Bergström", "Lundberg",
    "Lundqvist", "Mattsson", "Berglund", "Åberg", "Öberg", "Ström", "Håkansson", "Sjöberg", "Holm", "Nyström",
    "Ali", "Nguyen", "Yilmaz", "Hussein", "Kowalski", "Virtanen", "Rossi", "Haddad",
)  # fmt: skip
COMPANIES = (
    "Frisör Lisa AB",
    "Pizzeria Napoli",
    "Tandläkare Öberg AB",
    "Café Solstrålen",
    "Blomsterhörnan HB",
    "Redovisningsbyrån Siffran AB",
    "Cykelverkstan i Stan AB",
    "Yogastudion Andas",
)
FIRST_NAMES = ("Karin", "Jonas", "Maria", "Ahmed", "Sofia", "Lars", "Elin", "Mikael", "Fatima", "Per")
TAG_TYPES = ("Mifare DESFire", "Mifare DESFire", "Mifare DESFire", "Mifare Classic", "EM4102")
BLOCK_REASONS = ("Borttappad", "Stulen", "Avflyttad", "Trasig", "Hittades inte vid besiktning")
HOURLY = (1, 1, 1, 1, 1, 2, 6, 9, 7, 4, 3, 3, 4, 3, 3, 4, 6, 9, 8, 6, 5, 4, 2, 1)
"""How the traffic at the doors spreads over the hours of a day."""
DENIAL_REASONS = ("Taggen är spärrad", "Saknar behörighet till dörren", "Okänd tagg", "Utanför tidsschema")


@dataclass(frozen=True)
class _Group:
    name: str
    doors: tuple[str, ...]
    """Door names this group opens (the building's entrances are added for every group)."""


GROUPS = (
    _Group("Boende", ("Tvättstuga", "Soprum", "Källare", "Cykelrum", "Gården", "Förråd", "Bastu")),
    _Group("Garage", ("Garage",)),
    _Group("Lokaler", ("Lokalentré", "Soprum")),
    _Group("Fastighetsskötsel", OPTIONAL_DOORS),
    _Group("Städfirma", ("Soprum", "Källare", "Tvättstuga", "Samlingslokal")),
)


def _fmt_tag(digits: str) -> str:
    return f"{digits[:4]} {digits[4:8]} {digits[8:]}"


def _mobile(rng: random.Random) -> str:
    return f"+467{rng.choice('02369')}{rng.randrange(10**7):07d}"


def provision(session: Session, system_id: int, now: datetime, *, events: int = LOG_EVENTS) -> None:
    """Set one system up inside the caller's transaction: same ``system_id`` and ``now``, same data.

    Everything goes in as bulk inserts on the session's connection (no ORM objects), which keeps a system
    with its ~2,000 log events well under 0.3 s on SQLite.
    """
    rng = random.Random(f"acs-{system_id}")
    connection = session.connection()
    street = rng.choice(STREETS)
    number = rng.randrange(1, 40)
    state = {"system_id": system_id, "fault": Fault.NONE.value, "fail_next": 0, "provisioned_at": now}
    connection.execute(insert(AcsSystem), [state])

    # Doors: the entrance and the door phone always, then 4–8 of the rest, in a stable order.
    optional = sorted(rng.sample(range(len(OPTIONAL_DOORS)), rng.randint(4, 8)))
    door_names = ["Huvudentré", f"Porttelefon {street} {number}", *(OPTIONAL_DOORS[i] for i in optional)]
    doors = {f"D{i:02d}": name for i, name in enumerate(door_names, start=1)}
    door_by_name = {name: door_id for door_id, name in doors.items()}
    _bulk(connection, AcsDoor, [{"system_id": system_id, "id": d, "name": n} for d, n in doors.items()])
    entrances = [door_by_name["Huvudentré"], door_by_name[door_names[1]]]

    # Access groups: Boende, Garage and Lokaler always, then 0–2 of the service groups.
    chosen = [*GROUPS[:3], *rng.sample(GROUPS[3:], rng.randint(0, 2))]
    groups: dict[str, list[str]] = {}
    for i, group in enumerate(chosen, start=1):
        groups[f"G{i}"] = [*entrances, *(door_by_name[name] for name in group.doors if name in door_by_name)]
    group_names = {f"G{i}": group.name for i, group in enumerate(chosen, start=1)}
    _bulk(connection, AcsAccessGroup, [{"system_id": system_id, "id": g, "name": n} for g, n in group_names.items()])
    _bulk(
        connection,
        AcsGroupDoor,
        [{"system_id": system_id, "group_id": g, "door_id": d} for g, door_ids in groups.items() for d in door_ids],
    )

    # Holders: tenants by flat (floor 10 is the ground floor, 11 the first …), then companies with premises.
    tenant_count = rng.randint(18, 34)
    flats = [f"{floor}{flat:02d}" for floor in range(10, 17) for flat in range(1, 7)]
    surnames = rng.sample(SURNAMES, tenant_count)
    holders: list[dict[str, Any]] = []
    holder_groups: list[dict[str, Any]] = []
    for i, (unit, surname) in enumerate(zip(sorted(rng.sample(flats, tenant_count)), surnames, strict=True), start=1):
        holder_id = f"H{i:03d}"
        holders.append({"id": holder_id, "name": f"Lgh {unit} – {surname}", "kind": HolderKind.TENANT, "unit": unit})
        holder_groups.append({"holder_id": holder_id, "group_id": "G1"})
        if rng.random() < 0.3:
            holder_groups.append({"holder_id": holder_id, "group_id": "G2"})
    for j, company in enumerate(rng.sample(COMPANIES, rng.randint(2, 5)), start=1):
        holder_id = f"H{tenant_count + j:03d}"
        holders.append({"id": holder_id, "name": company, "kind": HolderKind.COMPANY, "unit": f"Lokal {j}"})
        holder_groups.append({"holder_id": holder_id, "group_id": "G3"})
    _bulk(connection, AcsHolder, [{"system_id": system_id, **holder} for holder in holders])
    _bulk(connection, AcsHolderGroup, [{"system_id": system_id, **link} for link in holder_groups])
    names = {holder["id"]: holder["name"] for holder in holders}

    # System users and service accounts of the hosted system.
    domain = f"{street.lower().replace('ö', 'o').replace('ä', 'a').replace('å', 'a')}{number}.example"
    users = [
        {"id": f"U{i}", "name": f"{first} {rng.choice(SURNAMES)}", "role": role}
        for i, (first, role) in enumerate(
            zip(rng.sample(FIRST_NAMES, 3), ("Administratör", "Fastighetsskötare", "Operatör"), strict=True), start=1
        )
    ][: rng.randint(2, 3)]
    for user in users:
        user["email"] = f"{user['name'].split()[0].lower()}@{domain}"
    _bulk(connection, AcsSystemUser, [{"system_id": system_id, **user} for user in users])
    accounts = [
        ("Administrera Själv", "styrelsen", f"styrelsen@{domain}"),
        ("Administrera Själv", "forvaltare", f"forvaltning@{domain}"),
        ("Bokningssystem", "bokning", f"bokning@{domain}"),
        ("Porttelefon-appen", "app-admin", f"porttelefon@{domain}"),
    ][: rng.randint(3, 4)]
    _bulk(
        connection,
        AcsServiceAccount,
        [
            {"system_id": system_id, "service": s, "username": u, "email": e, "password_digest": ""}
            for s, u, e in accounts
        ],
    )

    # Tags: 1–3 per holder, a few spares, some blocked (each block is also in the log).
    start = now - timedelta(days=LOG_DAYS)
    tags: list[dict[str, Any]] = []
    log: list[dict[str, Any]] = []
    seen: set[str] = set()
    for holder in [*holders, *({"id": None} for _ in range(rng.randint(1, 3)))]:
        for _ in range(rng.randint(1, 3) if holder["id"] else 1):
            digits = f"04{rng.randrange(10**8):08d}"
            while digits in seen:
                digits = f"04{rng.randrange(10**8):08d}"
            seen.add(digits)
            tag = {
                "number_key": digits,
                "number": _fmt_tag(digits),
                "holder_id": holder["id"],
                "state": TagState.ACTIVE,
                "tag_type": rng.choice(TAG_TYPES),
                "changed_at": now - timedelta(days=rng.randint(LOG_DAYS + 30, 2000), minutes=rng.randrange(1440)),
            }
            if holder["id"] and rng.random() < 0.08:
                tag["state"] = TagState.BLOCKED
                tag["changed_at"] = start + timedelta(seconds=rng.randrange(LOG_DAYS * 86400))
                log.append(
                    _event(
                        tag["changed_at"], EventKind.BLOCKED, tag=tag, holder=names[holder["id"]],
                        user=rng.choice(users)["id"], detail=f"Spärrad: {rng.choice(BLOCK_REASONS)}",
                    )
                )  # fmt: skip
            tags.append(tag)
    _bulk(connection, AcsTag, [{"system_id": system_id, **tag} for tag in tags])

    entries = [
        {
            "id": f"P{i:03d}",
            "display_name": holder["name"].split(" – ")[-1].upper(),
            "phone_number": _mobile(rng),
            "code": holder["unit"],
        }
        for i, holder in enumerate((h for h in holders if h["kind"] == HolderKind.TENANT), start=1)
    ]
    _bulk(connection, AcsDoorPhoneEntry, [{"system_id": system_id, **entry} for entry in entries])

    log.extend(
        _traffic(rng, events - len(log), start, now, doors, group_names, groups, holder_groups, tags, names, users)
    )
    log.sort(key=lambda row: row["at"])
    _bulk(connection, AcsEvent, [{"system_id": system_id, **row} for row in log])


def _traffic(
    rng: random.Random,
    count: int,
    start: datetime,
    now: datetime,
    doors: dict[str, str],
    group_names: dict[str, str],
    groups: dict[str, list[str]],
    holder_groups: list[dict[str, Any]],
    tags: list[dict[str, Any]],
    names: dict[str, str],
    users: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Everyday life at the doors: mostly opened, some denied, now and then an operator's change."""
    allowed: dict[str, set[str]] = {}
    for link in holder_groups:
        allowed.setdefault(link["holder_id"], set()).update(groups[link["group_id"]])
    held = [tag for tag in tags if tag["holder_id"]]
    door_ids = sorted(doors)
    span = int((now - start).total_seconds())
    rows = []
    for _ in range(max(count, 0)):
        # Busy mornings and evenings: pick the day uniformly, the hour from a daily rhythm.
        day = rng.randrange(span // 86400)
        hour = rng.choices(range(24), weights=HOURLY)[0]
        at = start + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))
        roll = rng.random()
        tag = rng.choice(held)
        holder = tag["holder_id"]
        if roll < 0.005:
            user = rng.choice(users)["id"]
            group = rng.choice(sorted(groups))
            rows.append(
                _event(at, EventKind.CHANGED, holder=names[holder], user=user, holder_id=holder,
                       detail=f"Behörighetsgrupp {group_names[group]} granskad")
            )  # fmt: skip
        elif roll < 0.06 or (tag["state"] == TagState.BLOCKED and at > tag["changed_at"]):
            door = rng.choice(door_ids)
            if roll < 0.02:
                number = f"04{rng.randrange(10**8):08d}"
                unknown = {"number": _fmt_tag(number), "number_key": number}
                rows.append(_event(at, EventKind.DENIED, door=(door, doors[door]), tag=unknown, detail="Okänd tagg"))
            else:
                forbidden = [d for d in door_ids if d not in allowed.get(holder, ())]
                if tag["state"] == TagState.BLOCKED and at > tag["changed_at"]:
                    reason = DENIAL_REASONS[0]
                elif forbidden and rng.random() < 0.7:  # a door the holder's groups do not open
                    door, reason = rng.choice(forbidden), DENIAL_REASONS[1]
                else:  # an allowed door, outside the hours it opens
                    door, reason = rng.choice(sorted(allowed.get(holder, {door}))), DENIAL_REASONS[3]
                rows.append(
                    _event(at, EventKind.DENIED, door=(door, doors[door]), tag=tag, holder=names[holder], detail=reason)
                )
        else:
            door = rng.choice(sorted(allowed.get(holder, {door_ids[0]})))
            rows.append(_event(at, EventKind.OPENED, door=(door, doors[door]), tag=tag, holder=names[holder]))
    return rows


def _event(
    at: datetime,
    kind: EventKind,
    *,
    door: tuple[str, str] | None = None,
    tag: dict[str, Any] | None = None,
    holder: str = "",
    holder_id: str | None = None,
    user: str | None = None,
    detail: str = "",
) -> dict[str, Any]:
    return {
        "at": at,
        "kind": kind.value,
        "door_id": door[0] if door else None,
        "door_name": door[1] if door else "",
        "tag_number": tag["number"] if tag else None,
        "tag_key": tag["number_key"] if tag else None,
        "holder_id": holder_id or (tag.get("holder_id") if tag else None),
        "holder_name": holder,
        "user_id": user,
        "detail": detail,
    }


def _bulk(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the connection's transaction: executemany on SQLite (a C loop), COPY on PostgreSQL.

    psycopg's executemany still sends one statement per row (a third of a second for one system's log);
    COPY sends them in one stream. Datetimes here are always timezone-aware, as ``timestamptz`` wants.
    """
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    name = table.__tablename__
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


def add_synthetic_events(
    database: Database,
    system_id: int,
    count: int,
    *,
    since: datetime,
    until: datetime,
    seed: int = 0,
    batch: int = 10_000,
) -> int:
    """Add ``count`` "opened" events spread evenly over [since, until) for load tests of the log (200,000 …).

    Uses the system's own doors and tags; each batch is one short write transaction. Returns how many rows
    were added.
    """
    rng = random.Random(f"acs-load-{system_id}-{seed}")
    with database.reading() as session:
        doors = [(d.id, d.name) for d in session.exec(select(AcsDoor).where(AcsDoor.system_id == system_id))]
        holders = {h.id: h.name for h in session.exec(select(AcsHolder).where(AcsHolder.system_id == system_id))}
        tags = [
            {"number": t.number, "number_key": t.number_key, "holder_id": t.holder_id}
            for t in session.exec(
                select(AcsTag).where(AcsTag.system_id == system_id, col(AcsTag.holder_id).is_not(None))
            )
        ]
    if not doors or not tags:
        raise ValueError(f"System {system_id} is not set up in the simulator.")
    step = (until - since) / max(count, 1)
    added = 0
    while added < count:
        rows = []
        for i in range(added, min(added + batch, count)):
            tag = rng.choice(tags)
            rows.append(
                {
                    "system_id": system_id,
                    **_event(
                        since + step * i, EventKind.OPENED, door=rng.choice(doors), tag=tag,
                        holder=holders.get(tag["holder_id"] or "", ""),
                    ),
                }
            )  # fmt: skip
        with database.writing() as session:
            _bulk(session.connection(), AcsEvent, rows)
        added += len(rows)
    return added


def set_fault(database: Database, system_id: int, fault: Fault | str = Fault.NONE, *, fail_next: int = 0) -> None:
    """Switch a simulated system's fault for a test or a demo (call it outside any open transaction).

    ``fault``: ``"unavailable"`` (every call raises AccessControlUnavailable), ``"refuse"`` (every change raises
    AccessControlRefused) or ``""`` (answers normally). ``fail_next``: the next N *changing* calls raise
    AccessControlUnavailable, then the system answers again (lookups never write, so they cannot count down).
    """
    value = Fault(fault)
    if fail_next < 0:
        raise ValueError("fail_next cannot be negative.")
    with database.writing() as session:
        change = update(AcsSystem).where(col(AcsSystem.system_id) == system_id)
        result = session.connection().execute(change.values(fault=value.value, fail_next=fail_next))
        if result.rowcount == 0:
            raise ValueError(f"System {system_id} is not set up in the simulator.")


def fault_state(database: Database, system_id: int) -> tuple[Fault, int]:
    """The fault switch and how many simulated failures are still to come."""
    with database.reading() as session:
        state = session.get(AcsSystem, system_id)
        if state is None:
            raise ValueError(f"System {system_id} is not set up in the simulator.")
        return Fault(state.fault), state.fail_next


def provision_missing(database: Database, clock: Clock) -> list[int]:
    """Set up every portal system the simulator does not know yet (systems added before it was installed).

    Returns the ids it set up; each system is one short write transaction.
    """
    with database.reading() as session:
        known = select(AcsSystem.system_id)
        missing = list(session.exec(select(System.id).where(col(System.id).not_in(known)).order_by(col(System.id))))
    done = []
    for system_id in missing:
        if system_id is None:
            continue
        with database.writing() as session:
            if session.get(AcsSystem, system_id) is None:  # another process may have been quicker
                provision(session, system_id, clock.now())
                done.append(system_id)
    return done
