"""Field types that request-type schemas share: Swedish phone numbers, long text, render-time choices."""

from __future__ import annotations

from typing import Annotated, Any

import phonenumbers
from pydantic import AfterValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from core.platform.i18n import N_

PHONE_INVALID = N_("Enter a Swedish phone number, e.g. 070-123 45 67.")
"""A msgid of the core's catalog: the form shows it through gettext, in the customer's language."""


def normalise_swedish_phone(value: str) -> str:
    """Accept the ways Swedes write numbers (070-123 45 67, +46 70 123 45 67, 0046…) and store E.164."""
    try:
        number = phonenumbers.parse(value, "SE")
    except phonenumbers.NumberParseException:
        raise PydanticCustomError("phone_invalid", PHONE_INVALID) from None
    if not phonenumbers.is_valid_number(number) or phonenumbers.region_code_for_number(number) != "SE":
        raise PydanticCustomError("phone_invalid", PHONE_INVALID)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


PhoneNumber = Annotated[
    str,
    Field(max_length=40),
    AfterValidator(normalise_swedish_phone),
    WithJsonSchema({"type": "string", "format": "phone", "maxLength": 40}),
]
"""A Swedish phone number, stored in E.164 (+46701234567)."""


TITLE_LENGTH = 60
"""About how long a request's title (its summary) may be: a heading or a list row on one line."""


def one_line(text: str, limit: int = TITLE_LENGTH) -> str:
    """The first line of ``text`` that has words in it, blanks collapsed, cut at a word to at most ``limit``
    characters with "…".

    For a summary: the type and its key fact on one line ("Felanmälan: Port 3 går inte att öppna"); the rest of
    what the customer wrote is in the request's body, not in headings and list rows.
    """
    lines = [" ".join(line.split()) for line in (text or "").splitlines()]
    first = next((line for line in lines if line), "")  # the first line with words (a line may be only blanks)
    if len(first) <= limit:
        return first
    cut = first[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:–-") + "…"


def long_text(**extra: Any) -> dict[str, Any]:
    """json_schema_extra for a multi-line text field."""
    return {"widget": "textarea", **extra}


def enum_labels(labels: dict[str, str]) -> dict[str, Any]:
    """json_schema_extra for a Literal/Enum field: the label (an English msgid) shown for each value."""
    return {"enum_labels": dict(labels)}


def file_upload(*, accept: str = "", max_files: int = 5) -> dict[str, Any]:
    """json_schema_extra for a field of files: a file input in the form; the stored value lists the file names.

    Declare the field as ``list[str] = Field(default_factory=list, max_length=max_files, …)``. The files
    themselves are checked by content (``accept="image/*"``: images only) and kept as attachments of the
    request; the JSON API cannot send them (``readOnly``). Only top-level fields (not inside a variant).
    """
    return {"widget": "file", "accept": accept, "max_files": max_files, "readOnly": True}


def render_time_choices(
    name: str, *, depends_on: str | None = None, refresh_label: str | None = None
) -> dict[str, Any]:
    """json_schema_extra for a field whose options the request type gives at render time.

    ``depends_on`` names the form field (a path: ``system_id``) whose chosen value narrows the options: the
    form offers only the options whose :attr:`~core.api.Choice.parent` is that value, and none (with a hint)
    while nothing is chosen there. Choosing in that field updates the form: at once with JavaScript, through
    a button without it. ``refresh_label`` (an English msgid) makes this field update the form in the same way
    when it changes (the type's :meth:`~core.api.RequestType.prefill` may then fill in other fields), with
    that label on the button.
    """
    extra: dict[str, Any] = {"choices": name}
    if depends_on:
        extra["depends_on"] = depends_on
    if refresh_label:
        extra["refresh_label"] = refresh_label
    return extra


def display_phone(value: str) -> str:
    """A stored (E.164) Swedish number as people write it: +46701234567 → 070-123 45 67; else as it is."""
    try:
        number = phonenumbers.parse(value, "SE")
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_valid_number(number):
        return value
    if phonenumbers.region_code_for_number(number) != "SE":
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
