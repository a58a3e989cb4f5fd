"""BBGRUPPEN Portal core: what a request-type plugin imports lives here."""

from core.context import FormContext, FulfilmentContext, HookContext
from core.fields import PhoneNumber, enum_labels, file_upload, long_text, render_time_choices
from core.hookspecs import hookimpl
from core.outbox import enqueue
from core.request_types import ChargeItem, Choice, FulfilmentMode, FulfilmentResult, RequestType

__all__ = [
    "ChargeItem",
    "Choice",
    "FormContext",
    "FulfilmentContext",
    "FulfilmentMode",
    "FulfilmentResult",
    "HookContext",
    "PhoneNumber",
    "RequestType",
    "enqueue",
    "enum_labels",
    "file_upload",
    "hookimpl",
    "long_text",
    "render_time_choices",
]
