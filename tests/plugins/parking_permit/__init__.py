"""Parkeringstillstånd: a third-party request type that lives outside ``plugins/`` (tests register it)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from core.api import ChargeItem, Choice, FormContext, FulfilmentMode, HookContext, RequestType, hookimpl
from tests.plugins.parking_permit.schema import ParkingPermitForm, PickUp, SendByPost

if TYPE_CHECKING:  # core/__init__ does not re-export these; only the annotations need them
    from core.models import Request
    from core.requests.statuses import Status


class ParkingPermit(RequestType):
    key = "parking_permit"
    version = 1
    schema = ParkingPermitForm
    fulfilment_mode = FulfilmentMode.MANUAL
    name = "Parking permit"
    description = "Apply for a permit to park in your property's car park."
    icon = "🅿"
    translation_domain = "parking_permit"
    locale_dir = Path(__file__).parent / "locale"
    order = 80

    def choices(self, field_name: str, context: FormContext) -> list[Choice] | None:
        if field_name == "delivery.store_id":
            return context.store_choices()
        return super().choices(field_name, context)

    def validate(self, data: BaseModel, context: FormContext) -> dict[str, str]:
        errors = super().validate(data, context)
        assert isinstance(data, ParkingPermitForm)
        if isinstance(data.delivery, PickUp):
            if not any(store.id == data.delivery.store_id for store in context.stores()):
                errors["delivery.store_id"] = "Choose one of the stores."
            if data.delivery.pickup_on is not None and data.delivery.pickup_on < context.today():
                errors["delivery.pickup_on"] = "The date has passed."
        return errors

    def example_strategies(self, context: FormContext) -> dict[str, Any]:
        """Postcodes as people write them; pick-up dates from today on (earlier ones are refused)."""
        from hypothesis import strategies as st

        return {
            "delivery.postcode": st.from_regex(r"\A\d{3} ?\d{2}\Z"),
            "delivery.pickup_on": st.dates(context.today(), context.today() + timedelta(days=60)),
        }

    def summary(self, data: BaseModel) -> str:
        assert isinstance(data, ParkingPermitForm)
        return f"{data.registration.upper()} – {data.holder_name}"

    def charge_items(self, data: BaseModel, request: Request) -> list[ChargeItem]:
        """The permit per month; postage when it is posted (picking it up in a store costs nothing extra)."""
        assert isinstance(data, ParkingPermitForm)
        items = [ChargeItem("PARKING_PERMIT", quantity=data.months, note=data.registration.upper())]
        if isinstance(data.delivery, SendByPost):
            items.append(ChargeItem("POSTAGE"))
        return items


@hookimpl
def bbportal_request_types() -> list[RequestType]:
    return [ParkingPermit()]


@hookimpl
def bbportal_status_changed(request: Request, to_status: Status, context: HookContext) -> None:
    """Observers see every type's requests: act on your own only. Takes fewer arguments than the spec."""
    if request.type_key == ParkingPermit.key and to_status == "completed":
        context.enqueue("parking_permit.issued", request_id=request.id)
