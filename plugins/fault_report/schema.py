"""The fault report form: what customers tell us when something in their system does not work."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.api import PhoneNumber, enum_labels, file_upload, long_text, render_time_choices

URGENCY_LABELS = {"low": "Low – it can wait", "normal": "Normal", "urgent": "Urgent – security or nobody gets in"}


class FaultReportForm(BaseModel):
    model_config = ConfigDict(title="Fault report", str_strip_whitespace=True, extra="forbid")

    system_id: int = Field(title="System", json_schema_extra=render_time_choices("systems"))
    location: str = Field(
        min_length=1,
        max_length=200,
        title="Where",
        description="The door, entrance or place, e.g. Main entrance, Storgatan 1.",
    )
    description: str = Field(
        min_length=1,
        max_length=4000,
        title="What happens",
        description="Describe the fault, e.g. the entrance lock does not always open.",
        json_schema_extra=long_text(),
    )
    since: date | None = Field(default=None, title="Since when")
    urgency: Literal["low", "normal", "urgent"] = Field(
        default="normal", title="How urgent", json_schema_extra=enum_labels(URGENCY_LABELS)
    )
    contact_name: str = Field(min_length=1, max_length=200, title="Contact person")
    contact_phone: PhoneNumber = Field(title="Contact phone", description="A Swedish number, e.g. 070-123 45 67.")
    technician_access: str = Field(
        default="",
        max_length=1000,
        title="When may a technician enter?",
        description="Times, key or code arrangements, people to ask for.",
        json_schema_extra=long_text(),
    )
    photos: list[str] = Field(
        default_factory=list,
        max_length=5,
        title="Photos",
        description="Optional: photos of the fault, e.g. the door, the lock or an error message on a display.",
        json_schema_extra=file_upload(accept="image/*", max_files=5),
    )
