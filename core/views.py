"""Read-only views of the core's rows, as plugins see them: a request, an organisation, a system, a user, a message.

A plugin never holds a core table row. Rows belong to the one writer of their fact (the lifecycle writes a
request's status, the chat its messages); a plugin that could set ``request.status`` on a row in the
caller's session would write around it. A view is a frozen copy of the columns a plugin may read, made at
the moment the core hands it over; it does not follow later changes and it cannot be changed or saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from core.models import Attachment, ChatMessage, Office, Organisation, Request, Store, System, User
    from core.platform.outbox import OutboxMessage


class SystemKind(StrEnum):
    """What a hosted system is; a request type may offer only systems of some kinds (``system_kinds``)."""

    ACCESS_CONTROL = "access_control"
    """Tags, holders, doors and access groups: the adapter's tag and holder methods work on it."""
    DOOR_PHONE = "door_phone"
    """A door phone: its entries (``door_phone_entries``, ``set_door_phone_entry``). A real one has no tags or
    holders (the embedded simulator gives every system some, whatever its kind: do not rely on them)."""


def _frozen(data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(data or {}))


@dataclass(frozen=True)
class RequestView:
    """One request as a plugin sees it: what was filed, by whom, for which system, where it stands now."""

    id: int | None
    """None only before the request is stored (the cost preview's draft)."""
    type_key: str
    schema_version: int
    data: Mapping[str, Any]
    """The validated form as JSON (read-only); ``YourSchema.model_validate(dict(view.data))`` gives the model."""
    summary: str
    status: str
    """A :class:`Status` value (``pending``, ``in_progress``, ``completed`` …)."""
    organisation_id: int
    requester_id: int
    system_id: int | None
    carry_out_on: date | None
    urgent: bool
    needs_attention: bool
    created_at: datetime

    @property
    def number(self) -> str:
        """The number customers and staff use (``BB-123``); empty before the request is stored."""
        return f"BB-{self.id}" if self.id is not None else ""

    @classmethod
    def of(cls, row: Request) -> RequestView:
        return cls(
            id=row.id,
            type_key=row.type_key,
            schema_version=row.schema_version,
            data=_frozen(row.data),
            summary=row.summary,
            status=str(row.status),
            organisation_id=row.organisation_id,
            requester_id=row.requester_id,
            system_id=row.system_id,
            carry_out_on=row.carry_out_on,
            urgent=row.priority > 0,
            needs_attention=row.needs_attention,
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class OrganisationView:
    """A customer organisation: a housing co-operative, a company."""

    id: int
    name: str
    org_number: str
    office_id: int
    """The BBGRUPPEN office that serves it."""
    active: bool

    @classmethod
    def of(cls, row: Organisation) -> OrganisationView:
        return cls(id=row.id or 0, name=row.name, org_number=row.org_number, office_id=row.office_id, active=row.active)


@dataclass(frozen=True)
class SystemView:
    """One of an organisation's hosted systems; ``kind`` says what its adapter can do (:class:`SystemKind`)."""

    id: int
    organisation_id: int
    name: str
    kind: str
    identifier: str
    """BBGRUPPEN's own reference for the installation (``SOL-AC-01``); may be empty."""
    active: bool

    @classmethod
    def of(cls, row: System) -> SystemView:
        return cls(
            id=row.id or 0,
            organisation_id=row.organisation_id,
            name=row.name,
            kind=row.kind,
            identifier=row.identifier,
            active=row.active,
        )


@dataclass(frozen=True)
class UserView:
    """A portal user: a customer of an organisation (``member`` or ``administrator``) or BBGRUPPEN staff."""

    id: int
    name: str
    email: str
    kind: str
    """``customer`` or ``staff``."""
    role: str
    """``member``, ``administrator`` (customers); ``handlaggare``, ``admin`` (staff)."""
    organisation_id: int | None
    language: str
    """``sv`` or ``en``: what the user reads the portal and their mails in."""
    active: bool
    created_at: datetime

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_org_admin(self) -> bool:
        return self.kind == "customer" and self.role == "administrator"

    @classmethod
    def of(cls, row: User) -> UserView:
        return cls(
            id=row.id or 0,
            name=row.name,
            email=row.email,
            kind=row.kind,
            role=row.role,
            organisation_id=row.organisation_id,
            language=row.language,
            active=row.active,
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class ChatMessageView:
    """One chat line of a request: from the customer, from staff, an internal note, or mail-born."""

    id: int
    request_id: int
    author_id: int | None
    """None: written by the portal itself."""
    body: str
    internal: bool
    """True: a note staff see and customers never do."""
    via: str
    """``portal`` (a page or the API), ``email`` (an answer by mail) or ``system`` (written by the portal itself)."""
    created_at: datetime | None

    @classmethod
    def of(cls, row: ChatMessage) -> ChatMessageView:
        return cls(
            id=row.id or 0,
            request_id=row.request_id,
            author_id=row.author_id,
            body=row.body,
            internal=row.internal,
            via=row.via,
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class StoreView:
    """A BBGRUPPEN store where ordered things are picked up."""

    id: int
    name: str
    address: str
    opening_hours: str
    active: bool

    @classmethod
    def of(cls, row: Store) -> StoreView:
        return cls(
            id=row.id or 0, name=row.name, address=row.address, opening_hours=row.opening_hours, active=row.active
        )


@dataclass(frozen=True)
class OfficeView:
    """A local BBGRUPPEN office: whom an organisation's people call or write to."""

    id: int
    name: str
    email: str
    phone: str
    address: str

    @classmethod
    def of(cls, row: Office) -> OfficeView:
        return cls(id=row.id or 0, name=row.name, email=row.email, phone=row.phone, address=row.address)


@dataclass(frozen=True)
class AttachmentView:
    """A file on a request, as a fulfilment that stored it gets it back: what to name in a chat line or keep
    in ``details``. The bytes are served by the portal, to whoever may see the request."""

    id: int
    request_id: int
    filename: str
    """As stored: sanitised, at most 200 characters."""
    content_type: str
    size: int
    internal: bool
    """Staff only."""
    origin: str | None

    @classmethod
    def of(cls, row: Attachment) -> AttachmentView:
        return cls(
            id=row.id or 0,
            request_id=row.request_id,
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            internal=row.internal,
            origin=row.origin,
        )


@dataclass(frozen=True)
class BackgroundJob:
    """One piece of background work a plugin queued (``context.enqueue(topic, ...)``), as its handler gets it."""

    id: int
    topic: str
    payload: Mapping[str, Any]
    """The keyword arguments given to ``enqueue`` (read-only)."""
    attempts: int
    """How many earlier runs failed: 0 on the first run."""

    @classmethod
    def of(cls, row: OutboxMessage) -> BackgroundJob:
        body = row.payload if isinstance(row.payload, dict) else {}
        return cls(id=row.id or 0, topic=row.topic, payload=_frozen(body), attempts=row.attempts)
