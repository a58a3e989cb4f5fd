"""The parking permit form: who parks what, for how long, and how the permit reaches them."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field
from pydantic_core import PydanticCustomError

from core.api import PhoneNumber, long_text, render_time_choices


class VehicleKind(StrEnum):
    CAR = "car"
    MOTORCYCLE = "motorcycle"
    VAN = "van"


# dict[str, Any]: json_schema_extra wants a JsonDict, and mypy will not take a dict[str, str] for one.
VEHICLE_LABELS: dict[str, Any] = {"car": "Car", "motorcycle": "Motorcycle", "van": "Van (max 3.5 t)"}


def normalise_postcode(value: str) -> str:
    """Five digits, stored as ``123 45``; the message is an English msgid the catalog translates."""
    digits = value.replace(" ", "")
    if len(digits) != 5 or not digits.isdigit():
        raise PydanticCustomError("postcode_invalid", "Enter a postcode of five digits, e.g. 123 45.")
    return f"{digits[:3]} {digits[3:]}"


Postcode = Annotated[str, AfterValidator(normalise_postcode)]


class SendByPost(BaseModel):
    """The permit is posted to an address."""

    model_config = ConfigDict(title="Send by post", str_strip_whitespace=True, extra="forbid")

    kind: Literal["post"] = "post"
    address: str = Field(min_length=1, max_length=300, title="Postal address")
    postcode: Postcode = Field(title="Postcode", description="Five digits, e.g. 123 45.")


class PickUp(BaseModel):
    """The permit is collected in one of BBGRUPPEN's stores."""

    model_config = ConfigDict(title="Pick up in a store", extra="forbid")

    kind: Literal["pickup"] = "pickup"
    store_id: int = Field(title="Store", json_schema_extra=render_time_choices("stores"))
    pickup_on: date | None = Field(default=None, title="Pick up on")


class ParkingPermitForm(BaseModel):
    model_config = ConfigDict(title="Parking permit", str_strip_whitespace=True, extra="forbid")

    holder_name: str = Field(min_length=1, max_length=200, title="Permit holder")
    registration: str = Field(
        min_length=2, max_length=10, title="Registration number", description="As on the plate, e.g. ABC 123."
    )
    vehicle: VehicleKind = Field(
        default=VehicleKind.CAR, title="Vehicle", json_schema_extra={"enum_labels": VEHICLE_LABELS}
    )
    months: int = Field(default=12, ge=1, le=24, title="Number of months")
    electric: bool = Field(default=False, title="Electric vehicle (needs a charging bay)")
    email: EmailStr = Field(title="E-mail for the receipt")
    phone: PhoneNumber | None = Field(default=None, title="Phone")
    delivery: Annotated[SendByPost | PickUp, Field(discriminator="kind", title="Delivery")]
    notes: str = Field(default="", max_length=1000, title="Anything else?", json_schema_extra=long_text())
