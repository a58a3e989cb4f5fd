"""The plugin's own table: which account each request changed, written in the transaction that changes it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from core.api import UTCDateTime


class Change(StrEnum):
    CREATED = "created"
    REACTIVATED = "reactivated"
    """A removed user of the same organisation was added again: the old account is opened with a new invitation."""
    REMOVED = "removed"


class AccountChange(SQLModel, table=True):
    """One row per request that changed an account.

    It is how a retried fulfilment knows the work is done (the account it finds was made by *this*
    request, not by someone else meanwhile), and it tells staff afterwards which request made each change.
    """

    __tablename__ = "portal_users_account_change"
    __table_args__ = (Index("ix_portal_users_account_change_request", "request_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id")
    user_id: int = Field(foreign_key="user.id", index=True)
    change: str = Field(max_length=16)
    """A :class:`Change` value."""
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
