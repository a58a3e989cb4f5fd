"""The password-reset form: which system, which of its services, which account."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.api import render_time_choices


class PasswordResetForm(BaseModel):
    model_config = ConfigDict(title="Password reset", str_strip_whitespace=True, extra="forbid")

    system_id: int = Field(title="System", json_schema_extra=render_time_choices("systems"))
    service: str = Field(
        min_length=1,
        max_length=80,
        title="Service",
        description="The services of the system chosen above.",
        json_schema_extra=render_time_choices("services", depends_on="system_id"),
    )
    username: str = Field(
        min_length=1,
        max_length=120,
        title="Account (username)",
        description="The username you log in to the service with.",
    )
