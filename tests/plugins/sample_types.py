"""Request types used only by tests: one per fulfilment mode, with a switch to make fulfilment fail."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from core import FulfilmentContext, FulfilmentMode, FulfilmentResult, RequestType, hookimpl
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
