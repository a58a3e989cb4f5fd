"""BBGRUPPEN Portal core: what a request-type plugin imports lives here."""

from core.hookspecs import hookimpl
from core.platform.outbox import enqueue
from core.requests.context import FormContext, FulfilmentContext, HookContext
from core.requests.fields import PhoneNumber, enum_labels, file_upload, long_text, render_time_choices
from core.requests.request_types import ChargeItem, Choice, FulfilmentMode, FulfilmentResult, RequestType

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
