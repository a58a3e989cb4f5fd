"""The suggestion form: what it concerns, the suggestion itself, and the system when it is about one."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.api import enum_labels, long_text, render_time_choices

TOPIC_LABELS: dict[str, Any] = {
    "portal": "The portal",
    "system": "Our system",
    "service": "Service and support",
    "other": "Something else",
}
SUGGESTION_MAX = 4000


class SuggestionForm(BaseModel):
    model_config = ConfigDict(title="Suggest a change", str_strip_whitespace=True, extra="forbid")

    topic: Literal["portal", "system", "service", "other"] = Field(
        title="What it concerns", json_schema_extra=enum_labels(TOPIC_LABELS)
    )
    suggestion: str = Field(
        min_length=1,
        max_length=SUGGESTION_MAX,
        title="Your suggestion",
        description="What you miss or would like, and why it would help you.",
        json_schema_extra=long_text(),
    )
    system_id: int | None = Field(
        default=None,
        title="System",
        description="If the suggestion concerns one of your systems.",
        json_schema_extra=render_time_choices("systems"),
    )
