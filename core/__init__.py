"""BBGRUPPEN Portal core: what a request-type plugin imports lives here."""

from core.hookspecs import hookimpl
from core.mail import MailJob, MailKind
from core.mail import queue as queue_mail
from core.platform.outbox import enqueue
from core.platform.signing import digest as token_digest
from core.platform.signing import link_token
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
    "MailJob",
    "MailKind",
    "PhoneNumber",
    "RequestType",
    "enqueue",
    "enum_labels",
    "file_upload",
    "hookimpl",
    "link_token",
    "long_text",
    "queue_mail",
    "render_time_choices",
    "token_digest",
]
