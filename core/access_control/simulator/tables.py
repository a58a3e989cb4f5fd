"""The simulator's own tables (prefix ``acs_``): what a hosted access-control system keeps, per portal system."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index
from sqlmodel import Field, SQLModel

from core.models import utc_column


class AcsSystem(SQLModel, table=True):
    """One simulated installation, keyed by the portal's ``system.id``; holds the fault switch for tests and demos."""

    __tablename__ = "acs_system"

    system_id: int = Field(primary_key=True, foreign_key="system.id")
    fault: str = Field(default="", max_length=20)
    """"" (answers normally), "unavailable" (every call times out) or "refuse" (every change is refused)."""
    fail_next: int = 0
    """How many of the next changing calls fail with AccessControlUnavailable before the system answers again."""
    provisioned_at: datetime = utc_column()


class AcsDoor(SQLModel, table=True):
    __tablename__ = "acs_door"

    system_id: int = Field(primary_key=True, foreign_key="acs_system.system_id")
    id: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=120)


class AcsAccessGroup(SQLModel, table=True):
    __tablename__ = "acs_access_group"

    system_id: int = Field(primary_key=True, foreign_key="acs_system.system_id")
    id: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=120)


class AcsGroupDoor(SQLModel, table=True):
    """Which doors an access group opens."""

    __tablename__ = "acs_group_door"
    __table_args__ = (
        ForeignKeyConstraint(["system_id", "group_id"], ["acs_access_group.system_id", "acs_access_group.id"]),
        ForeignKeyConstraint(["system_id", "door_id"], ["acs_door.system_id", "acs_door.id"]),
    )

    system_id: int = Field(primary_key=True)
    group_id: str = Field(primary_key=True, max_length=16)
    door_id: str = Field(primary_key=True, max_length=16)


class AcsHolder(SQLModel, table=True):
    """A tenant (``unit`` is the flat number) or a company (``unit`` is its premises)."""

    __tablename__ = "acs_holder"

    system_id: int = Field(primary_key=True, foreign_key="acs_system.system_id")
    id: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    unit: str = Field(default="", max_length=40)


class AcsHolderGroup(SQLModel, table=True):
    """Which access groups a holder has."""

    __tablename__ = "acs_holder_group"
    __table_args__ = (
        ForeignKeyConstraint(["system_id", "holder_id"], ["acs_holder.system_id", "acs_holder.id"]),
        ForeignKeyConstraint(["system_id", "group_id"], ["acs_access_group.system_id", "acs_access_group.id"]),
    )

    system_id: int = Field(primary_key=True)
    holder_id: str = Field(primary_key=True, max_length=16)
    group_id: str = Field(primary_key=True, max_length=16)


class AcsTag(SQLModel, table=True):
    """A tag (fob or card); ``number_key`` is the number without spaces, ``number`` as printed on the tag."""

    __tablename__ = "acs_tag"
    __table_args__ = (
        ForeignKeyConstraint(["system_id", "holder_id"], ["acs_holder.system_id", "acs_holder.id"]),
        Index("ix_acs_tag_holder", "system_id", "holder_id"),
    )

    system_id: int = Field(primary_key=True, foreign_key="acs_system.system_id")
    number_key: str = Field(primary_key=True, max_length=40)
    number: str = Field(max_length=40)
    holder_id: str | None = Field(default=None, max_length=16)
    state: str = Field(max_length=16)
    tag_type: str = Field(default="", max_length=40)
    changed_at: datetime | None = utc_column(nullable=True)


class AcsDoorPhoneEntry(SQLModel, table=True):
    """A name in the door phone's directory: the number it calls and the code dialled at the door."""

    __tablename__ = "acs_door_phone_entry"

    system_id: int = Field(primary_key=True, foreign_key="acs_system.system_id")
    id: str = Field(primary_key=True, max_length=16)
    display_name: str = Field(max_length=80)
    phone_number: str = Field(max_length=20)
    code: str = Field(default="", max_length=8)


class AcsSystemUser(SQLModel, table=True):
    """An operator of the hosted system itself (not a portal user)."""

    __tablename__ = "acs_system_user"

    system_id: int = Field(primary_key=True, foreign_key="acs_system.system_id")
    id: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    role: str = Field(max_length=40)


class AcsServiceAccount(SQLModel, table=True):
    """An account in one of the system's services; only a digest of its password is ever kept."""

    __tablename__ = "acs_service_account"

    system_id: int = Field(primary_key=True, foreign_key="acs_system.system_id")
    service: str = Field(primary_key=True, max_length=80)
    username: str = Field(primary_key=True, max_length=120)
    email: str = Field(max_length=254)
    password_digest: str = Field(default="", max_length=255)
    password_changed_at: datetime | None = utc_column(nullable=True)


class AcsEvent(SQLModel, table=True):
    """One line of the event log. Door and holder names are copied in, as a real log keeps them as they were."""

    __tablename__ = "acs_event"
    __table_args__ = (
        Index("ix_acs_event_at", "system_id", "at", "id"),
        Index("ix_acs_event_tag", "system_id", "tag_key", "at"),
        Index("ix_acs_event_door", "system_id", "door_id", "at"),
        Index("ix_acs_event_user", "system_id", "user_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="acs_system.system_id")
    at: datetime = utc_column()
    kind: str = Field(max_length=16)
    door_id: str | None = Field(default=None, max_length=16)
    door_name: str = Field(default="", max_length=120)
    tag_number: str | None = Field(default=None, max_length=40)
    tag_key: str | None = Field(default=None, max_length=40)
    """The tag number without spaces: what filtering by tag compares."""
    holder_id: str | None = Field(default=None, max_length=16)
    holder_name: str = Field(default="", max_length=200)
    user_id: str | None = Field(default=None, max_length=16)
    detail: str = Field(default="", max_length=500)
