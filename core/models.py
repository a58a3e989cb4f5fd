"""The database tables (SQLModel). Validation happens in input models before rows are built from them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, event
from sqlmodel import Field, SQLModel

from core.platform.columns import UTCDateTime, utc_column
from core.platform.i18n import current_language


class UserKind(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


class Role(StrEnum):
    MEMBER = "member"
    ADMINISTRATOR = "administrator"
    HANDLAGGARE = "handlaggare"
    ADMIN = "admin"


CUSTOMER_ROLES = frozenset({Role.MEMBER, Role.ADMINISTRATOR})
STAFF_ROLES = frozenset({Role.HANDLAGGARE, Role.ADMIN})


class Office(SQLModel, table=True):
    """A local BBGRUPPEN office: the contact an organisation is pointed to for questions."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    email: str = Field(max_length=254)
    phone: str = Field(max_length=32)
    address: str = Field(default="", max_length=300)


class Store(SQLModel, table=True):
    """A BBGRUPPEN shop where ordered tags can be picked up."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    address: str = Field(max_length=300)
    opening_hours: str = Field(default="", max_length=200)
    active: bool = True


class Organisation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    org_number: str = Field(default="", max_length=20)
    office_id: int = Field(foreign_key="office.id", index=True)
    active: bool = True
    created_at: datetime = utc_column()


class System(SQLModel, table=True):
    """A hosted access-control or door-phone installation of one organisation."""

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=200)
    kind: str = Field(default="access_control", max_length=40)
    identifier: str = Field(default="", max_length=80)
    active: bool = True


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    """Stored lower-cased: addresses compare case-insensitively."""
    name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=200)
    kind: str = Field(max_length=16)
    """A :class:`UserKind` value (stored as plain text, as are all enums here)."""
    role: str = Field(max_length=16)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    language: str = Field(default="sv", max_length=5)
    notify: str = Field(default="all", max_length=16)
    """Which status changes are mailed: ``all``, ``answer_needed`` (waiting for the customer) or ``none``."""
    active: bool = True
    created_at: datetime = utc_column()
    mail_undeliverable_at: datetime | None = utc_column(nullable=True)
    """Set by a hard bounce: no mail goes to this address until it changes (staff see why)."""
    mail_undeliverable_reason: str = Field(default="", max_length=300)

    @property
    def is_staff(self) -> bool:
        return self.kind == UserKind.STAFF

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_org_admin(self) -> bool:
        return self.role == Role.ADMINISTRATOR


@event.listens_for(User.email, "set", active_history=True)
def _address_changed(user: User, value: str, old_value: Any, _initiator: Any) -> None:
    """A new address is a new chance: whoever changes it (admin pages, a plugin), the bounce mark goes."""
    if isinstance(old_value, str) and value != old_value:
        user.mail_undeliverable_at = None
        user.mail_undeliverable_reason = ""


def title_in(language: str, summary: str, summary_en: str | None) -> str:
    """A request's title in ``language``: the English one for English readers when it was stored, else Swedish."""
    return summary_en if language == "en" and summary_en else summary


class Request(SQLModel, table=True):
    """One customer request. ``status`` always equals ``to_status`` of its newest history row."""

    __table_args__ = (
        Index("ix_request_queue", "status", "priority", "queued_at", "id"),
        Index("ix_request_org_id", "organisation_id", "id"),
        Index("ix_request_org_status_id", "organisation_id", "status", "id"),
        Index("ix_request_type_id", "type_key", "id"),
        Index("ix_request_attention", "needs_attention", "status"),
        Index("ix_request_updated_id", "updated_at", "id"),
        Index("ix_request_status_id", "status", "id"),
        Index("ix_request_assignee_status_id", "assignee_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    type_key: str = Field(max_length=64)
    schema_version: int
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    summary: str = Field(default="", max_length=300)
    """The title in Swedish (the portal's first language); ``summary_en`` holds it in English."""
    summary_en: str | None = Field(default=None, max_length=300)
    """The title in English, made at filing; None on requests filed before there was one (they show ``summary``)."""
    status: str = Field(max_length=32)
    carry_out_on: date | None = None
    queued_at: datetime | None = utc_column(nullable=True)
    priority: int = 0
    """Higher is handled first: a request type may mark a request urgent (1)."""
    assignee_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    requester_id: int = Field(foreign_key="user.id", index=True)
    system_id: int | None = Field(default=None, foreign_key="system.id")
    follows_up_id: int | None = Field(default=None, foreign_key="request.id")
    """The closed request this one follows up ("new request about this", from its page or its last mail)."""
    fulfilment_running: bool = False
    needs_attention: bool = False
    """Set when an automatic step failed: staff must look at it."""
    version: int = 1
    """Bumped by every transition; a transition applies only to the version it read (no lost races)."""
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()

    @property
    def number(self) -> str:
        return f"BB-{self.id}"

    @property
    def title(self) -> str:
        """The title in the reader's language (English where there is one, else the stored Swedish)."""
        return title_in(current_language(), self.summary, self.summary_en)


class RequestHistory(SQLModel, table=True):
    """Who did what to a request, when; ``actor_id`` empty means the ``system`` actor."""

    __tablename__ = "request_history"
    __table_args__ = (Index("ix_request_history_request", "request_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id")
    at: datetime = utc_column()
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    action: str = Field(max_length=40)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str = Field(max_length=32)
    reason: str = Field(default="", max_length=2000)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ChatMessage(SQLModel, table=True):
    __tablename__ = "chat_message"
    __table_args__ = (Index("ix_chat_message_request", "request_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id")
    author_id: int | None = Field(default=None, foreign_key="user.id")
    body: str
    internal: bool = False
    """Staff-only note: never shown to customers, in pages, API, mails or exports."""
    via: str = Field(default="portal", max_length=16)
    inbound_mail_id: int | None = Field(default=None, foreign_key="inbound_mail.id")
    """For messages that came by e-mail: the original message, kept as received."""
    created_at: datetime = utc_column()


class Attachment(SQLModel, table=True):
    """A file on a request: uploaded with a chat message, kept from an inbound mail, or made by a fulfilment.

    The bytes live in the file storage under ``storage_key``; the row says what they are. ``content_type``
    was found from the content, never from the name the sender gave.
    """

    __table_args__ = (
        Index("ix_attachment_request", "request_id", "id"),
        Index("ix_attachment_origin", "request_id", "origin", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id")
    message_id: int | None = Field(default=None, foreign_key="chat_message.id", index=True)
    filename: str = Field(max_length=200)
    """Sanitised: no path, no control characters, at most 200 characters."""
    content_type: str = Field(max_length=120)
    size: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=220)
    internal: bool = False
    """Staff-only (a file on an internal note): never served to customers."""
    origin: str | None = Field(default=None, max_length=80)
    """Set on files a fulfilment makes (``extract``), so that a retry replaces the file instead of adding one."""
    uploaded_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = utc_column()


class RequestFollower(SQLModel, table=True):
    """Who of the organisation follows a request; the requester follows from the start."""

    __tablename__ = "request_follower"

    request_id: int = Field(foreign_key="request.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    following: bool = True


class PasswordToken(SQLModel, table=True):
    """A one-time link to set a password (reset or invitation); only its digest is stored."""

    __tablename__ = "password_token"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    purpose: str = Field(max_length=16)
    created_at: datetime = utc_column()
    expires_at: datetime = utc_column()
    used_at: datetime | None = utc_column(nullable=True)


class InboundMail(SQLModel, table=True):
    """Every mail the intake received, kept with its original bytes: attached to a request, or in quarantine."""

    __tablename__ = "inbound_mail"
    __table_args__ = (Index("ix_inbound_mail_status", "status", "id"), Index("ix_inbound_mail_digest", "digest"))

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = utc_column()
    sender: str = Field(default="", max_length=320)
    subject: str = Field(default="", max_length=998)
    message_id: str = Field(default="", max_length=998)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    digest: str = Field(default="", max_length=64)
    """SHA-256 of ``raw``: the same bytes delivered again (an MTA retrying) are taken once."""
    status: str = Field(max_length=16)
    """``attached`` (became a chat message), ``quarantined`` (staff decide) or ``ignored`` (auto-reply, bounce)."""
    reason: str = Field(default="", max_length=300)
    request_id: int | None = Field(default=None, foreign_key="request.id")
    chat_message_id: int | None = None
    """The message it became (no foreign key: chat_message already points here; one direction is enough)."""


class SentMail(SQLModel, table=True):
    """The text of every mail we sent about a request, by its Message-ID: a reply that quotes none of our
    addresses is tied to its request by the Message-ID it answers, and the quoted history in any reply is
    found by this text, whatever the client's attribution line, language or quoting style."""

    __tablename__ = "sent_mail"
    __table_args__ = (Index("ix_sent_mail_request", "request_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=250, unique=True)
    request_id: int = Field(foreign_key="request.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    kind: str = Field(max_length=64)
    sent_at: datetime = utc_column()
    text: str
    """The plain-text part as sent (never a mail without a request: those may carry one-time links)."""


class WebSession(SQLModel, table=True):
    """A server-side log-in session; the cookie holds a random token, the table only its digest."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_digest: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = utc_column()
    last_seen_at: datetime = utc_column()
    expires_at: datetime = utc_column()


class ApiToken(SQLModel, table=True):
    """A personal API token: random and long, so a keyed SHA-256 digest is enough (no slow hash)."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=100)
    digest: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = utc_column()
    last_used_at: datetime | None = utc_column(nullable=True)
    revoked_at: datetime | None = utc_column(nullable=True)


class LoginAttempt(SQLModel, table=True):
    """A failed log-in, counted per account and per client address to throttle guessing."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300)
    at: datetime = utc_column()


class ListChoice(SQLModel, table=True):
    """The view, filters and order a staff member last chose on a list: the list opens that way next time."""

    __tablename__ = "list_choice"

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    list_key: str = Field(max_length=32, primary_key=True)
    query: str = Field(max_length=1000)
    """The list's address query (``view=mine&type=order&sort=-updated``), without a page cursor."""


__all__ = [
    "ApiToken",
    "Attachment",
    "ChatMessage",
    "InboundMail",
    "ListChoice",
    "LoginAttempt",
    "Office",
    "Organisation",
    "PasswordToken",
    "Request",
    "RequestFollower",
    "RequestHistory",
    "Role",
    "Store",
    "System",
    "UTCDateTime",
    "User",
    "UserKind",
    "WebSession",
    "utc_column",
]
