"""The extract form: which system, its users or its event log (all of it, or one door, tag or user), which dates."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.api import enum_labels, render_time_choices

MAX_DAYS = 366
"""The longest window of the log one request may ask for (a year, leap day included)."""

FORMAT_LABELS = {"csv": "CSV (opens in Excel)", "csv_xlsx": "CSV and an Excel file (XLSX)"}


# The variants' values are not the names of their fields ("one_door", not "door"): the generated form gives
# each radio button the id "<field id>-<value>", which must not be the id of the field inside the variant.


class WholeSystem(BaseModel):
    model_config = ConfigDict(title="The whole system", extra="forbid")

    scope: Literal["whole_system"] = "whole_system"


class OneDoor(BaseModel):
    model_config = ConfigDict(title="One door", extra="forbid", str_strip_whitespace=True)

    scope: Literal["one_door"] = "one_door"
    door: str = Field(
        min_length=1,
        max_length=60,
        title="Door",
        json_schema_extra=render_time_choices("doors", depends_on="system_id"),
    )
    """``<system id>:<door id>``: the form offers the doors of the system chosen, and the pair is checked
    against the chosen system on submit."""


class OneTag(BaseModel):
    model_config = ConfigDict(title="One tag", extra="forbid", str_strip_whitespace=True)

    scope: Literal["one_tag"] = "one_tag"
    tag_number: str = Field(
        min_length=1, max_length=40, title="Tag number", description="As printed on the tag, e.g. 0412 3344 55."
    )


class OneUser(BaseModel):
    model_config = ConfigDict(title="One user of the system", extra="forbid", str_strip_whitespace=True)

    scope: Literal["one_user"] = "one_user"
    user: str = Field(
        min_length=1,
        max_length=60,
        title="User",
        json_schema_extra=render_time_choices("system_users", depends_on="system_id"),
    )
    """``<system id>:<user id>``, for the same reason as :attr:`OneDoor.door`."""


class UsersExtract(BaseModel):
    model_config = ConfigDict(title="The system's users", extra="forbid")

    kind: Literal["users"] = "users"


class EventLogExtract(BaseModel):
    model_config = ConfigDict(title="The event log", extra="forbid")

    kind: Literal["log"] = "log"
    scope: Annotated[WholeSystem | OneDoor | OneTag | OneUser, Field(discriminator="scope", title="Log of")]
    date_from: date = Field(title="From date", description="The first day of the log, e.g. 2026-10-01.")
    date_to: date = Field(
        title="To date", description=f"The last day, at the latest today; at most {MAX_DAYS} days in all."
    )


class LogExtractForm(BaseModel):
    model_config = ConfigDict(title="Extract or log", str_strip_whitespace=True, extra="forbid")

    system_id: int = Field(title="System", json_schema_extra=render_time_choices("systems"))
    extract: Annotated[UsersExtract | EventLogExtract, Field(discriminator="kind", title="Extract of")]
    file_format: Literal["csv", "csv_xlsx"] = Field(
        default="csv", title="File format", json_schema_extra=enum_labels(FORMAT_LABELS)
    )
