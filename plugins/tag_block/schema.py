"""The tag block form: which system, block or reactivate, the tag (by its number or through its holder), why."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from core.api import enum_labels, render_time_choices

ACTION_LABELS: dict[str, Any] = {"block": "Block the tag", "reactivate": "Reactivate the tag"}
TAG_NUMBER_MAX = 40
REASON_MAX = 300

_PRINTED = re.compile(r"[0-9A-Za-z]+(?:[ -][0-9A-Za-z]+)*")


def check_printed_number(value: str) -> str:
    """Digits and letters as printed on a tag, in groups split by single spaces or hyphens (runs of blanks collapse).

    The system itself decides whether the number exists; this only keeps out what cannot be a tag number.
    """
    collapsed = " ".join(value.split())
    if collapsed and not _PRINTED.fullmatch(collapsed):
        raise PydanticCustomError(
            "tag_number_invalid", "Enter the number printed on the tag, e.g. 0412 3344 55 (digits and letters only)."
        )
    return collapsed


PrintedNumber = Annotated[str, AfterValidator(check_printed_number)]


class ByNumber(BaseModel):
    """The customer has the tag's number (from the tag itself, a list or the system)."""

    model_config = ConfigDict(title="By the tag's number", str_strip_whitespace=True, extra="forbid")

    kind: Literal["by_number"] = "by_number"
    number: PrintedNumber = Field(
        min_length=1,
        max_length=TAG_NUMBER_MAX,
        title="Tag number",
        description="As printed on the tag, e.g. 0412 3344 55.",
    )


class ByHolder(BaseModel):
    """The customer knows who lost the tag, not its number: the holder, then which of the holder's tags.

    Without JavaScript the page cannot narrow the tags to the chosen holder while the customer types, so the
    tag is given as text and checked against the holder's tags on submit: empty is enough when the holder has
    one tag, the last digits are enough when they match only one, and otherwise the error lists the holder's
    tags to choose from.
    """

    model_config = ConfigDict(title="Through its holder", str_strip_whitespace=True, extra="forbid")

    kind: Literal["by_holder"] = "by_holder"
    holder: str = Field(
        min_length=1,
        max_length=80,
        title="Holder",
        description="The tenant or company who had the tag.",
        json_schema_extra=render_time_choices("holders", depends_on="system_id"),
    )
    holder_tag: PrintedNumber = Field(
        default="",
        max_length=TAG_NUMBER_MAX,
        title="Which of the holder's tags",
        description=(
            "Leave empty if the holder has only one tag. Otherwise the tag's number, or its last digits; "
            "if you do not know it, send the form and we list the holder's tags."
        ),
    )


class TagBlockForm(BaseModel):
    model_config = ConfigDict(title="Block / reactivate a lost tag", str_strip_whitespace=True, extra="forbid")

    system_id: int = Field(title="System", json_schema_extra=render_time_choices("systems"))
    action: Literal["block", "reactivate"] = Field(
        default="block", title="What should be done", json_schema_extra=enum_labels(ACTION_LABELS)
    )
    tag: Annotated[ByNumber | ByHolder, Field(discriminator="kind", title="Which tag")]
    reason: str = Field(
        min_length=1,
        max_length=REASON_MAX,
        title="Reason",
        description="E.g. lost, stolen, or found again.",
    )

    @property
    def tag_number(self) -> str:
        """The tag's number as stored: validation replaces what was typed with the system's own spelling."""
        return self.tag.number if isinstance(self.tag, ByNumber) else self.tag.holder_tag
