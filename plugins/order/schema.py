"""The order form (Beställning): one system, then one kind of order, each with only its own questions.

The kinds are variants of one discriminated union, so the form shows only the chosen kind's fields (with
or without JavaScript) and the API takes the same nested JSON. Fields that refer to the hosted system
(holders, access groups, door-phone entries) carry ``"<system id>:<id in that system>"``: they depend on the
system field, so the form offers those of the chosen system (updated on a change, or by the "Välj system"
button without JavaScript), and validation checks that the value belongs to the chosen system.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from core.api import PhoneNumber, enum_labels, long_text, render_time_choices

NEW_ENTRY = "new"
"""The door-phone entry value that asks for a new entry instead of changing one."""

# dict[str, Any]: json_schema_extra wants a JsonDict, and mypy will not take a dict[str, str] for one.
TAG_TYPE_LABELS: dict[str, Any] = {
    "desfire_ev3_fob": "Mifare DESFire EV3 fob",
    "desfire_card": "Mifare DESFire card",
    "long_range": "Car tag / long-range",
}
TagType = Literal["desfire_ev3_fob", "desfire_card", "long_range"]
MAX_TAGS = 500


POSTCODE = re.compile(r"\d{3} ?\d{2}", re.ASCII)


def normalise_postcode(value: str) -> str:
    """A Swedish postcode, written ``123 45`` or ``12345``; stored as ``123 45``."""
    if not POSTCODE.fullmatch(value):
        raise PydanticCustomError("postcode_invalid", "Enter a postcode of five digits, e.g. 123 45.")
    digits = value.replace(" ", "")
    return f"{digits[:3]} {digits[3:]}"


Postcode = Annotated[str, AfterValidator(normalise_postcode)]
DisplayName = Annotated[str, AfterValidator(lambda value: " ".join(value.split()))]
"""A name as the door phone shows it: inner runs of blanks become one (the display has no room for them)."""


class AccessChange(BaseModel):
    """Give one holder (a flat or premises) exactly these access groups."""

    model_config = ConfigDict(title="Change of access permissions", str_strip_whitespace=True, extra="forbid")

    kind: Literal["access"] = "access"
    holder: str = Field(
        max_length=120,
        title="Whose permissions",
        description="The flat or premises, as registered in the system.",
        json_schema_extra=render_time_choices(
            "holders", depends_on="system_id", refresh_label="Show their current access groups"
        ),
    )
    access_groups: Annotated[list[str], AfterValidator(lambda groups: list(dict.fromkeys(groups)))] = Field(
        min_length=1,
        max_length=30,
        title="Access groups they should have",
        description=(
            "Their groups now are ticked. Tick every group they should have after the change; a group you untick "
            "is removed, and you are asked to confirm that before the order is sent."
        ),
        json_schema_extra=render_time_choices("access_groups", depends_on="system_id"),
    )


class DoorPhoneChange(BaseModel):
    """Change a name or number in the door phone, or add a new entry."""

    model_config = ConfigDict(title="Change in the door phone", str_strip_whitespace=True, extra="forbid")

    kind: Literal["door_phone"] = "door_phone"
    entry: str = Field(
        max_length=120,
        title="Which entry",
        description="An entry to change, or a new entry.",
        json_schema_extra=render_time_choices("door_phone_entries", depends_on="system_id"),
    )
    display_name: DisplayName = Field(
        min_length=1,
        max_length=40,
        title="Name on the display",
        description="As it should read on the door phone, e.g. ANDERSSON.",
    )
    phone_number: PhoneNumber = Field(
        title="Phone number", description="The number the door phone calls, e.g. 070-123 45 67."
    )


class OtherChange(BaseModel):
    """Any other change to the system, described in words; staff carry it out by hand."""

    model_config = ConfigDict(title="Another change", str_strip_whitespace=True, extra="forbid")

    kind: Literal["other"] = "other"
    description: str = Field(
        min_length=1,
        max_length=4000,
        title="What should be changed",
        description="Describe the change, e.g. open the main entrance 07–18 on weekdays.",
        json_schema_extra=long_text(),
    )


class SendTags(BaseModel):
    """The tags are sent by post to an address."""

    model_config = ConfigDict(title="Send them to us", str_strip_whitespace=True, extra="forbid")

    kind: Literal["send"] = "send"
    recipient: str = Field(min_length=1, max_length=200, title="Recipient", description="A person or company.")
    street: str = Field(min_length=1, max_length=200, title="Street address")
    postcode: Postcode = Field(title="Postcode", description="Five digits, e.g. 123 45.")
    city: str = Field(min_length=1, max_length=100, title="City")


class PickUpTags(BaseModel):
    """The tags are collected in one of BBGRUPPEN's stores."""

    model_config = ConfigDict(title="Pick them up in a BBGRUPPEN store", extra="forbid")

    kind: Literal["pickup"] = "pickup"
    store_id: int = Field(title="Store", json_schema_extra=render_time_choices("stores"))


class TagOrder(BaseModel):
    """New tags for the system, sent or picked up."""

    model_config = ConfigDict(title="Order tags", str_strip_whitespace=True, extra="forbid")

    kind: Literal["tags"] = "tags"
    tag_type: TagType = Field(title="Type of tag", json_schema_extra=enum_labels(TAG_TYPE_LABELS))
    quantity: int = Field(ge=1, le=MAX_TAGS, title="How many", description="1 to 500.")
    delivery: Annotated[SendTags | PickUpTags, Field(discriminator="kind", title="Delivery")]


OrderKind = Annotated[
    AccessChange | DoorPhoneChange | OtherChange | TagOrder, Field(discriminator="kind", title="What to order")
]


class OrderForm(BaseModel):
    model_config = ConfigDict(title="Order", str_strip_whitespace=True, extra="forbid")

    system_id: int = Field(
        title="System",
        description="For a change in the door phone, choose your door-phone system.",
        json_schema_extra=render_time_choices("systems"),
    )
    order: OrderKind
