"""The simulator's adapter: every :class:`~core.access_control.AccessControl` call answered from the acs_ tables."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from core.access_control import (
    AccessControlRefused,
    AccessControlUnavailable,
    AccessGroup,
    ChangeReceipt,
    Door,
    DoorPhoneEntry,
    Event,
    EventFilter,
    EventKind,
    Holder,
    HolderKind,
    ServiceAccount,
    SystemUser,
    Tag,
    TagState,
)
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
from core.accounts import auth
from core.platform.clock import Clock
from core.platform.db import Database

EVENT_BATCH = 1000
"""Events read per query while streaming the log: memory stays bounded whatever the window holds."""

EVENT_COLUMNS = (
    *("id", "at", "kind", "door_id", "door_name"),
    *("tag_number", "holder_id", "holder_name", "user_id", "detail"),
)
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MIN_SERVICE_PASSWORD = 8
DETAIL_LENGTH = 500


class Fault(StrEnum):
    """The per-system fault switch (``acs_system.fault``)."""

    NONE = ""
    UNAVAILABLE = "unavailable"
    """Every call raises AccessControlUnavailable before anything changes."""
    REFUSE = "refuse"
    """Lookups answer; every changing call raises AccessControlRefused."""


def tag_key(number: str) -> str:
    """A tag number as the system compares it: without spaces, upper case ("0412 3344 55" → "0412334455")."""
    return "".join(number.split()).upper()


def _detail(text: str) -> str:
    return text if len(text) <= DETAIL_LENGTH else text[: DETAIL_LENGTH - 1] + "…"


class SimulatorAccessControl:
    """One simulated hosted system.

    Lookups only read (each in its own short read session), so they are safe while the caller holds a write
    transaction on the same thread (form validation inside the filing transaction). Changing calls write in
    one transaction of their own: the change, its event-log row, and the fault counter.
    """

    def __init__(
        self, database: Database, clock: Clock, system_id: int, system_name: str = "", *, batch_size: int = EVENT_BATCH
    ) -> None:
        self.database = database
        self.clock = clock
        self.system_id = system_id
        self.system_name = system_name or f"system {system_id}"
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"SimulatorAccessControl(system_id={self.system_id}, system_name={self.system_name!r})"

    # --- plumbing -----------------------------------------------------------------------------------

    def _state(self, session: Session, *, for_update: bool = False) -> AcsSystem:
        state = session.get(AcsSystem, self.system_id, with_for_update=for_update)
        if state is None:
            raise AccessControlRefused(
                f"{self.system_name} is not set up in the simulator: it has no doors, tags or log to work with."
            )
        if state.fault == Fault.UNAVAILABLE:
            raise AccessControlUnavailable(f"{self.system_name} did not answer (simulated outage); nothing changed.")
        return state

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self.database.reading() as session:
            self._state(session)
            yield session

    def _change(self, work: Callable[[Session, datetime], ChangeReceipt]) -> ChangeReceipt:
        """Run one change with the fault switch applied; a simulated failure still commits the spent counter."""
        receipt: ChangeReceipt | None = None
        with self.database.writing() as session:
            state = self._state(session, for_update=True)
            if state.fail_next > 0:
                state.fail_next -= 1
                session.add(state)
            elif state.fault == Fault.REFUSE:
                raise AccessControlRefused(f"{self.system_name} refused the change (simulated refusal).")
            else:
                receipt = work(session, self.clock.now())
        if receipt is None:
            raise AccessControlUnavailable(f"{self.system_name} timed out (simulated failure); nothing changed.")
        return receipt

    def _log(
        self,
        session: Session,
        kind: EventKind,
        at: datetime,
        *,
        tag: AcsTag | None = None,
        holder: AcsHolder | None = None,
        detail: str = "",
    ) -> AcsEvent:
        event = AcsEvent(
            system_id=self.system_id,
            at=at,
            kind=kind.value,
            tag_number=tag.number if tag else None,
            tag_key=tag.number_key if tag else None,
            holder_id=holder.id if holder else None,
            holder_name=holder.name if holder else "",
            detail=_detail(detail),
        )
        session.add(event)
        session.flush()
        return event

    def _tag_row(self, session: Session, number: str) -> AcsTag:
        tag = session.get(AcsTag, (self.system_id, tag_key(number))) if tag_key(number) else None
        if tag is None:
            raise AccessControlRefused(f"There is no tag {number.strip()!r} in {self.system_name}.")
        return tag

    def _holder_row(self, session: Session, holder_id: str) -> AcsHolder:
        holder = session.get(AcsHolder, (self.system_id, holder_id))
        if holder is None:
            raise AccessControlRefused(f"There is no holder {holder_id!r} in {self.system_name}.")
        return holder

    def _holder_groups(self, session: Session, holder_ids: list[str] | None = None) -> dict[str, tuple[str, ...]]:
        query = select(AcsHolderGroup).where(AcsHolderGroup.system_id == self.system_id)
        if holder_ids is not None:
            query = query.where(col(AcsHolderGroup.holder_id).in_(holder_ids))
        groups: dict[str, list[str]] = {}
        for row in session.exec(query.order_by(col(AcsHolderGroup.holder_id), col(AcsHolderGroup.group_id))):
            groups.setdefault(row.holder_id, []).append(row.group_id)
        return {holder_id: tuple(ids) for holder_id, ids in groups.items()}

    @staticmethod
    def _holder(row: AcsHolder, groups: dict[str, tuple[str, ...]]) -> Holder:
        return Holder(
            id=row.id, name=row.name, kind=HolderKind(row.kind), unit=row.unit, access_group_ids=groups.get(row.id, ())
        )

    @staticmethod
    def _tag(row: AcsTag) -> Tag:
        return Tag(
            number=row.number,
            holder_id=row.holder_id,
            state=TagState(row.state),
            tag_type=row.tag_type,
            changed_at=row.changed_at,
        )

    # --- lookups --------------------------------------------------------------------------------------

    def doors(self) -> list[Door]:
        with self._reading() as session:
            rows = session.exec(select(AcsDoor).where(AcsDoor.system_id == self.system_id).order_by(col(AcsDoor.id)))
            return [Door(id=row.id, name=row.name) for row in rows]

    def access_groups(self) -> list[AccessGroup]:
        with self._reading() as session:
            doors: dict[str, list[str]] = {}
            for link in session.exec(
                select(AcsGroupDoor)
                .where(AcsGroupDoor.system_id == self.system_id)
                .order_by(col(AcsGroupDoor.group_id), col(AcsGroupDoor.door_id))
            ):
                doors.setdefault(link.group_id, []).append(link.door_id)
            query = select(AcsAccessGroup).where(AcsAccessGroup.system_id == self.system_id)
            rows = session.exec(query.order_by(col(AcsAccessGroup.id)))
            return [AccessGroup(id=row.id, name=row.name, door_ids=tuple(doors.get(row.id, ()))) for row in rows]

    def holders(self, search: str = "") -> list[Holder]:
        wanted = search.strip().casefold()
        with self._reading() as session:
            rows = session.exec(
                select(AcsHolder).where(AcsHolder.system_id == self.system_id).order_by(col(AcsHolder.id))
            ).all()
            # Filtered here, not in SQL: SQLite's lower() folds only ASCII, and "Å" must match "å".
            matching = [row for row in rows if wanted in row.name.casefold() or wanted in row.unit.casefold()]
            groups = self._holder_groups(session)
            return [self._holder(row, groups) for row in matching]

    def holder(self, holder_id: str) -> Holder | None:
        with self._reading() as session:
            row = session.get(AcsHolder, (self.system_id, holder_id))
            return None if row is None else self._holder(row, self._holder_groups(session, [holder_id]))

    def tags(self, holder_id: str | None = None) -> list[Tag]:
        with self._reading() as session:
            query = select(AcsTag).where(AcsTag.system_id == self.system_id)
            if holder_id is not None:
                query = query.where(AcsTag.holder_id == holder_id)
            return [self._tag(row) for row in session.exec(query.order_by(col(AcsTag.number_key)))]

    def tag(self, number: str) -> Tag | None:
        key = tag_key(number)
        with self._reading() as session:
            row = session.get(AcsTag, (self.system_id, key)) if key else None
            return None if row is None else self._tag(row)

    def door_phone_entries(self) -> list[DoorPhoneEntry]:
        with self._reading() as session:
            rows = session.exec(
                select(AcsDoorPhoneEntry)
                .where(AcsDoorPhoneEntry.system_id == self.system_id)
                .order_by(col(AcsDoorPhoneEntry.id))
            )
            return [
                DoorPhoneEntry(id=row.id, display_name=row.display_name, phone_number=row.phone_number, code=row.code)
                for row in rows
            ]

    def system_users(self) -> list[SystemUser]:
        with self._reading() as session:
            rows = session.exec(
                select(AcsSystemUser).where(AcsSystemUser.system_id == self.system_id).order_by(col(AcsSystemUser.id))
            )
            return [SystemUser(id=row.id, name=row.name, email=row.email, role=row.role) for row in rows]

    def service_accounts(self) -> list[ServiceAccount]:
        with self._reading() as session:
            rows = session.exec(
                select(AcsServiceAccount)
                .where(AcsServiceAccount.system_id == self.system_id)
                .order_by(col(AcsServiceAccount.service), col(AcsServiceAccount.username))
            )
            return [ServiceAccount(service=row.service, username=row.username, email=row.email) for row in rows]

    def events(self, event_filter: EventFilter) -> Iterator[Event]:
        """Checks the system now (an outage raises here, not at the first ``next``), then streams.

        Each page checks again, so an outage switched on while a caller is part-way through the log raises
        AccessControlUnavailable from the iterator, as a real system going away mid-transfer would.
        """
        if event_filter.until < event_filter.since:
            raise AccessControlRefused(
                f"The log window ends ({event_filter.until:%Y-%m-%d %H:%M}) before it starts "
                f"({event_filter.since:%Y-%m-%d %H:%M})."
            )
        with self.database.reading() as session:
            self._state(session)
        return self._stream(event_filter)

    def _stream(self, event_filter: EventFilter) -> Iterator[Event]:
        """Keyset pages on (at, id), each read in its own short session: no transaction stays open between pages."""
        table = AcsEvent.__table__  # type: ignore[attr-defined]
        at, event_id = table.c.at, table.c.id
        narrowed = sa_select(*(table.c[name] for name in EVENT_COLUMNS)).where(
            table.c.system_id == self.system_id, at < event_filter.until
        )
        if event_filter.door_id is not None:
            narrowed = narrowed.where(table.c.door_id == event_filter.door_id)
        if event_filter.tag_number is not None:
            narrowed = narrowed.where(table.c.tag_key == tag_key(event_filter.tag_number))
        if event_filter.user_id is not None:
            narrowed = narrowed.where(table.c.user_id == event_filter.user_id)
        narrowed = narrowed.order_by(at, event_id).limit(self.batch_size)
        last: tuple[datetime, int] | None = None
        while True:
            # The page starts where the last one ended (at >= last moment), so the index range begins there and
            # a late page costs no more than the first; "at > last or id > last id" drops what was already sent.
            if last is None:
                query = narrowed.where(at >= event_filter.since)
            else:
                query = narrowed.where(at >= last[0], or_(at > last[0], event_id > last[1]))
            with self.database.reading() as session:
                self._state(session)
                rows = session.connection().execute(query).all()
            for row in rows:
                yield Event(
                    at=row.at,
                    kind=EventKind(row.kind),
                    door_id=row.door_id,
                    door_name=row.door_name,
                    tag_number=row.tag_number,
                    holder_id=row.holder_id,
                    holder_name=row.holder_name,
                    user_id=row.user_id,
                    detail=row.detail,
                )
            if len(rows) < self.batch_size:
                return
            last = (rows[-1].at, rows[-1].id)

    # --- changes --------------------------------------------------------------------------------------

    def block_tag(self, number: str, reason: str) -> ChangeReceipt:
        return self._set_tag_state(number, TagState.BLOCKED, reason)

    def reactivate_tag(self, number: str, reason: str) -> ChangeReceipt:
        return self._set_tag_state(number, TagState.ACTIVE, reason)

    def _set_tag_state(self, number: str, state: TagState, reason: str) -> ChangeReceipt:
        def work(session: Session, now: datetime) -> ChangeReceipt:
            tag = self._tag_row(session, number)
            holder = session.get(AcsHolder, (self.system_id, tag.holder_id)) if tag.holder_id else None
            details = {"tag": tag.number, "holder": holder.name if holder else "", "state": state.value}
            if tag.state == state:
                since = tag.changed_at or now
                return ChangeReceipt(changed=False, at=since, details={**details, "since": since.isoformat()})
            previous = tag.state
            tag.state, tag.changed_at = state.value, now
            session.add(tag)
            kind = EventKind.BLOCKED if state == TagState.BLOCKED else EventKind.REACTIVATED
            verb = "Spärrad" if state == TagState.BLOCKED else "Återaktiverad"
            event = self._log(session, kind, now, tag=tag, holder=holder, detail=f"{verb} via portalen: {reason}")
            return ChangeReceipt(
                changed=True, at=now, details={**details, "previous_state": previous, "event_id": str(event.id)}
            )

        return self._change(work)

    def set_access_groups(self, holder_id: str, group_ids: list[str]) -> ChangeReceipt:
        wanted = sorted(set(group_ids))

        def work(session: Session, now: datetime) -> ChangeReceipt:
            holder = self._holder_row(session, holder_id)
            groups = {
                row.id: row.name
                for row in session.exec(select(AcsAccessGroup).where(AcsAccessGroup.system_id == self.system_id))
            }
            unknown = [group_id for group_id in wanted if group_id not in groups]
            if unknown:
                raise AccessControlRefused(f"{self.system_name} has no access group {', '.join(map(repr, unknown))}.")
            current = list(self._holder_groups(session, [holder_id]).get(holder_id, ()))
            names = {"previous": ", ".join(groups[g] for g in current), "now": ", ".join(groups[g] for g in wanted)}
            details = {"holder": holder.name, "previous_groups": names["previous"], "groups": names["now"]}
            if current == wanted:
                return ChangeReceipt(changed=False, at=now, details=details)
            session.connection().execute(
                delete(AcsHolderGroup).where(
                    col(AcsHolderGroup.system_id) == self.system_id, col(AcsHolderGroup.holder_id) == holder_id
                )
            )
            for group_id in wanted:
                session.add(AcsHolderGroup(system_id=self.system_id, holder_id=holder_id, group_id=group_id))
            detail = f"Behörighetsgrupper ändrade via portalen: {names['previous'] or '–'} → {names['now'] or '–'}"
            event = self._log(session, EventKind.CHANGED, now, holder=holder, detail=detail)
            return ChangeReceipt(changed=True, at=now, details={**details, "event_id": str(event.id)})

        return self._change(work)

    def set_door_phone_entry(self, entry_id: str | None, *, display_name: str, phone_number: str) -> ChangeReceipt:
        name = " ".join(display_name.split())
        number = "".join(phone_number.split())
        if not name or len(name) > 80:
            raise AccessControlRefused("A door-phone display name must have 1 to 80 characters.")
        if not E164.match(number):
            raise AccessControlRefused(
                f"{phone_number!r} is not a phone number in international form (E.164, e.g. +46701234567)."
            )

        def work(session: Session, now: datetime) -> ChangeReceipt:
            entries = list(session.exec(select(AcsDoorPhoneEntry).where(AcsDoorPhoneEntry.system_id == self.system_id)))
            if entry_id is None:
                same = next((e for e in entries if e.display_name == name and e.phone_number == number), None)
                if same is not None:  # a retried add finds the entry it made the first time
                    return ChangeReceipt(
                        changed=False, at=now, details={"entry_id": same.id, "code": same.code, "display_name": name}
                    )
                entry = AcsDoorPhoneEntry(
                    system_id=self.system_id,
                    id=_next_id("P", [e.id for e in entries]),
                    display_name=name,
                    phone_number=number,
                    code=_next_code([e.code for e in entries]),
                )
                previous = {"previous_display_name": "", "previous_phone_number": ""}
                detail = f"Porttelefon: ny post {name} ({entry.code}) → {number}"
            else:
                found = next((e for e in entries if e.id == entry_id), None)
                if found is None:
                    raise AccessControlRefused(f"There is no door-phone entry {entry_id!r} in {self.system_name}.")
                entry = found
                previous = {"previous_display_name": entry.display_name, "previous_phone_number": entry.phone_number}
                if (entry.display_name, entry.phone_number) == (name, number):
                    return ChangeReceipt(
                        changed=False, at=now, details={"entry_id": entry.id, "code": entry.code, **previous}
                    )
                detail = f"Porttelefon: {entry.display_name} → {name}, {entry.phone_number} → {number}"
                entry.display_name, entry.phone_number = name, number
            session.add(entry)
            event = self._log(session, EventKind.CHANGED, now, detail=detail)
            return ChangeReceipt(
                changed=True,
                at=now,
                details={
                    "entry_id": entry.id,
                    "code": entry.code,
                    "display_name": name,
                    **previous,
                    "event_id": str(event.id),
                },
            )

        return self._change(work)

    def reset_service_password(self, service: str, username: str, new_password: str) -> ChangeReceipt:
        if len(new_password) < MIN_SERVICE_PASSWORD:
            raise AccessControlRefused(f"{service} requires a password of at least {MIN_SERVICE_PASSWORD} characters.")
        # Hashed before the write transaction opens, so the lock is not held while argon2 works.
        digest = auth.hash_password(new_password)

        def work(session: Session, now: datetime) -> ChangeReceipt:
            account = session.get(AcsServiceAccount, (self.system_id, service, username))
            if account is None:
                raise AccessControlRefused(f"{self.system_name} has no {service} account {username!r}.")
            details = {"service": service, "username": username, "email": account.email}
            if account.password_digest and auth.verify_password(account.password_digest, new_password):
                return ChangeReceipt(changed=False, at=account.password_changed_at or now, details=details)
            account.password_digest, account.password_changed_at = digest, now
            session.add(account)
            detail = f"Nytt lösenord för {service}-kontot {username} via portalen"
            event = self._log(session, EventKind.CHANGED, now, detail=detail)
            return ChangeReceipt(changed=True, at=now, details={**details, "event_id": str(event.id)})

        return self._change(work)


def _next_id(prefix: str, taken: list[str]) -> str:
    numbers = [int(value[len(prefix) :]) for value in taken if value[: len(prefix)] == prefix and value[1:].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


def _next_code(taken: list[str]) -> str:
    """New entries get codes from 9001 up, clear of the flat numbers (1001–1699) the demo entries use."""
    used = set(taken)
    free = next((code for code in map(str, range(9001, 10000)) if code not in used), None)
    if free is None:
        raise AccessControlRefused("The door phone has no free codes left (9001–9999 are all taken).")
    return free
