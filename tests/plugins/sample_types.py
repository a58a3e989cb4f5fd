"""Request types used only by tests: one per fulfilment mode, with a switch to make fulfilment fail."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from core.api import ChargeItem, FulfilmentContext, FulfilmentMode, FulfilmentResult, RequestType, hookimpl
from core.models import Request


class NoteForm(BaseModel):
    note: str = Field(min_length=1, max_length=100, title="Note")


class _Sample(RequestType):
    schema = NoteForm
    fail_next: ClassVar[list[str]] = []
    calls: ClassVar[list[int]] = []

    def summary(self, data: BaseModel) -> str:
        return getattr(data, "note", "")

    def fulfil(self, request: Request, context: FulfilmentContext) -> FulfilmentResult:
        type(self).calls.append(request.id or 0)
        if type(self).fail_next:
            return FulfilmentResult(ok=False, internal_note=type(self).fail_next.pop(0))
        return FulfilmentResult(ok=True, customer_message="Done.", internal_note="adapter said ok")


class AutomaticSample(_Sample):
    key = "sample_automatic"
    name = "Automatic sample"
    fulfilment_mode = FulfilmentMode.AUTOMATIC
    allows_carry_out_on = False


class ApprovalSample(_Sample):
    key = "sample_approval"
    name = "Approval sample"
    fulfilment_mode = FulfilmentMode.ON_APPROVAL


class ManualSample(_Sample):
    key = "sample_manual"
    name = "Manual sample"
    fulfilment_mode = FulfilmentMode.MANUAL


class SamplePlugin:
    @hookimpl
    def bbportal_request_types(self) -> list[RequestType]:
        return [AutomaticSample(), ApprovalSample(), ManualSample()]


class TagOrderForm(BaseModel):
    model_config = ConfigDict(title="Tag order", extra="forbid")

    tags: int = Field(default=1, ge=1, le=500, title="Number of tags")
    send: bool = Field(default=False, title="Send by post")
    change_orders: int = Field(default=0, ge=0, le=20, title="Change orders")


class BillableSample(RequestType):
    """Gives rise to items the way the built-in order type does: tags × quantity, postage when sent."""

    key = "sample_billable"
    name = "Billable sample"
    schema = TagOrderForm
    fulfilment_mode = FulfilmentMode.MANUAL

    def summary(self, data: BaseModel) -> str:
        assert isinstance(data, TagOrderForm)
        return f"{data.tags} tags"

    def charge_items(self, data: BaseModel, request: Request) -> list[ChargeItem]:
        assert isinstance(data, TagOrderForm)
        items = [ChargeItem("TAG", quantity=data.tags)]
        if data.send:
            items.append(ChargeItem("POSTAGE"))
        if data.change_orders:
            items.append(ChargeItem("CHANGE_ORDER", quantity=data.change_orders))
        return items


class AutomaticBillableSample(BillableSample):
    key = "sample_billable_automatic"
    name = "Automatic billable sample"
    fulfilment_mode = FulfilmentMode.AUTOMATIC
    allows_carry_out_on = False

    def fulfil(self, request: Request, context: FulfilmentContext) -> FulfilmentResult:
        return FulfilmentResult(ok=True, customer_message="Done.")


class BillingSamplePlugin:
    @hookimpl
    def bbportal_request_types(self) -> list[RequestType]:
        return [BillableSample(), AutomaticBillableSample()]
