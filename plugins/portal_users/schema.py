"""The portal-users form: add a user, remove a user, or ask for the list of users (one variant each)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, PrivateAttr

from core.api import enum_labels, render_time_choices

# "Member" and "Administrator" are the core's msgids: its catalog already has the Swedish.
ROLE_LABELS = {"member": "Member", "administrator": "Administrator"}

Email = Annotated[EmailStr, AfterValidator(lambda value: value.strip().lower())]
"""An address as the core stores it: validated, then lower-cased (addresses compare case-insensitively)."""


class AddUser(BaseModel):
    """A new account; the person chooses a password through the invitation mail's link."""

    model_config = ConfigDict(title="Add a user", str_strip_whitespace=True, extra="forbid")

    kind: Literal["add"] = "add"
    name: str = Field(min_length=1, max_length=200, title="Name", description="First name and surname.")
    email: Email = Field(
        max_length=254,
        title="E-mail address",
        description="The invitation with a link to choose a password is sent here; it is also the log-in.",
    )
    role: Literal["member", "administrator"] = Field(
        default="member",
        title="Role",
        description="Administrators can also add and remove users.",
        json_schema_extra=enum_labels(ROLE_LABELS),
    )


class RemoveUser(BaseModel):
    """An account that should no longer log in; its requests and messages stay."""

    model_config = ConfigDict(title="Remove a user", extra="forbid")

    kind: Literal["remove"] = "remove"
    user_id: int = Field(title="User", json_schema_extra=render_time_choices("users"))

    # Set by validation from the chosen user, for the summary (which sees only the data); never stored.
    _label: str = PrivateAttr(default="")


class ListUsers(BaseModel):
    """The organisation's users as a CSV file attached to the request."""

    model_config = ConfigDict(title="Get a list of the users", extra="forbid")

    kind: Literal["list"] = "list"
    include_removed: bool = Field(default=False, title="Include removed users")


Task = Annotated[AddUser | RemoveUser | ListUsers, Field(discriminator="kind", title="What do you want to do?")]


class PortalUsersForm(BaseModel):
    model_config = ConfigDict(title="Manage portal users", extra="forbid")

    task: Task
