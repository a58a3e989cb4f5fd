"""The hosted access-control system as plugins see it: one narrow interface, whatever system is behind it.

Request types never talk to a system directly: they ask their context for ``access_control(system_id)``
and get an :class:`AccessControl` for that hosted system. Which implementation answers is decided by the
``bbportal_access_control`` hook (first answer wins); the embedded simulator
(:mod:`core.access_control.simulator`) answers last, so a plugin for a real system simply answers first.

Every call may fail: :class:`AccessControlUnavailable` means "try again later" (timeout, system offline)
and leaves the system as it was; :class:`AccessControlRefused` means the system said no (unknown tag, a
change it does not allow) and a retry would get the same answer. Changing calls are idempotent: blocking
a blocked tag, or setting the access groups a holder already has, changes nothing and does not fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable


class AccessControlError(Exception):
    """Base of the adapter's errors; the message is meant for staff (it goes into an internal note)."""


class AccessControlUnavailable(AccessControlError):
    """The system did not answer in time or is offline: nothing changed, a retry may succeed."""


class AccessControlRefused(AccessControlError):
    """The system refused the call (unknown tag, holder or door; an invalid value): a retry will not help."""


class TagState(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"


class HolderKind(StrEnum):
    TENANT = "tenant"
    COMPANY = "company"


class EventKind(StrEnum):
    OPENED = "opened"
    DENIED = "denied"
    BLOCKED = "blocked"
    REACTIVATED = "reactivated"
    CHANGED = "changed"


@dataclass(frozen=True)
class Door:
    id: str
    name: str


@dataclass(frozen=True)
class AccessGroup:
    id: str
    name: str
    door_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Holder:
    """Who holds tags: a tenant (a flat) or a company (premises)."""

    id: str
    name: str
    kind: HolderKind
    unit: str = ""
    """Flat or premises number, e.g. "1102"."""
    access_group_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tag:
    number: str
    holder_id: str | None
    state: TagState
    tag_type: str = ""
    changed_at: datetime | None = None
    """When the state last changed (the moment a block took effect)."""


@dataclass(frozen=True)
class DoorPhoneEntry:
    id: str
    display_name: str
    phone_number: str
    """E.164."""
    code: str = ""
    """The short code dialled at the door, e.g. "0102"."""


@dataclass(frozen=True)
class SystemUser:
    """A user of the hosted system itself (its administrators and operators), not a portal user."""

    id: str
    name: str
    email: str
    role: str


@dataclass(frozen=True)
class ServiceAccount:
    """An account in one of the services of the hosted system (e.g. "Administrera Själv")."""

    service: str
    username: str
    email: str
    """Where the system sends things for this account: the only place a new password may go."""


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: EventKind
    door_id: str | None = None
    door_name: str = ""
    tag_number: str | None = None
    holder_id: str | None = None
    holder_name: str = ""
    user_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class EventFilter:
    """A bounded window of the event log, optionally narrowed to one door, tag or system user."""

    since: datetime
    until: datetime
    door_id: str | None = None
    tag_number: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class ChangeReceipt:
    """What a changing call did: ``changed`` is False when the system already was as asked."""

    changed: bool
    at: datetime
    details: dict[str, str] = field(default_factory=dict)
    """What the system reported (ids, previous values), for the internal note."""


@runtime_checkable
class AccessControl(Protocol):
    """One hosted system. Lookups return plain values; changing calls return a :class:`ChangeReceipt`."""

    def doors(self) -> list[Door]: ...

    def access_groups(self) -> list[AccessGroup]: ...

    def holders(self, search: str = "") -> list[Holder]:
        """Tenants and companies, optionally those whose name or unit contains ``search`` (case-insensitive)."""
        ...

    def holder(self, holder_id: str) -> Holder | None: ...

    def tags(self, holder_id: str | None = None) -> list[Tag]:
        """All tags of the system, or those of one holder."""
        ...

    def tag(self, number: str) -> Tag | None:
        """The tag with this number (as printed on it; spaces ignored), or None."""
        ...

    def block_tag(self, number: str, reason: str) -> ChangeReceipt: ...

    def reactivate_tag(self, number: str, reason: str) -> ChangeReceipt: ...

    def set_access_groups(self, holder_id: str, group_ids: list[str]) -> ChangeReceipt:
        """Give a holder exactly these access groups."""
        ...

    def door_phone_entries(self) -> list[DoorPhoneEntry]: ...

    def set_door_phone_entry(self, entry_id: str | None, *, display_name: str, phone_number: str) -> ChangeReceipt:
        """Change an entry's name and number, or add one when ``entry_id`` is None."""
        ...

    def system_users(self) -> list[SystemUser]: ...

    def events(self, event_filter: EventFilter) -> Iterator[Event]:
        """The log, oldest first, as a stream: callers must not assume it fits in memory."""
        ...

    def service_accounts(self) -> list[ServiceAccount]: ...

    def reset_service_password(self, service: str, username: str, new_password: str) -> ChangeReceipt:
        """Set a service account's password; the password itself is never stored or logged by the portal."""
        ...


__all__ = [
    "AccessControl",
    "AccessControlError",
    "AccessControlRefused",
    "AccessControlUnavailable",
    "AccessGroup",
    "ChangeReceipt",
    "Door",
    "DoorPhoneEntry",
    "Event",
    "EventFilter",
    "EventKind",
    "Holder",
    "HolderKind",
    "ServiceAccount",
    "SystemUser",
    "Tag",
    "TagState",
]
