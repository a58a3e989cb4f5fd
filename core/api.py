"""The plugin API: everything a request-type plugin may import from the core, and nothing else.

A plugin imports ``from core.api import ...`` (and, in its tests, ``from core.testing import ...``); an
import-linter contract refuses any other import of ``core`` from ``plugins/``. Each name is documented in
``docs/plugin-api.md`` with its signature, what it promises and whether it is stable; a test fails when a
name here is missing there. No core table class is exported: a plugin reads the core's rows as read-only
views (:class:`RequestView`, :class:`SystemView` …) and changes them only through the services below.
"""

from __future__ import annotations

from core.access_control import (
    AccessControl,
    AccessControlError,
    AccessControlRefused,
    AccessControlUnavailable,
    AccessGroup,
    ChangeReceipt,
    Door,
    DoorPhoneEntry,
    Event,
    EventFilter,
    EventKind,
    Holder,
    HolderKind,
    ServiceAccount,
    SystemUser,
    Tag,
    TagState,
)
from core.accounts.directory import (
    add_customer_user,
    deactivate_user,
    find_organisation,
    find_system,
    find_user,
    find_user_by_email,
    invite_user,
    lock_organisation,
    organisation_users,
    reopen_customer_user,
)
from core.hookspecs import hookimpl
from core.mail import MailJob, MailKind
from core.mail import queue as queue_mail
from core.models import Role, UserKind
from core.platform.clock import LOCAL_ZONE, Clock, as_utc, local_today
from core.platform.columns import UTCDateTime, utc_column
from core.platform.csv_export import csv_chunks
from core.platform.db import Database
from core.platform.errors import Conflict, Forbidden, NotFound, PortalError, ValidationFailed
from core.platform.i18n import N_, current_language, gettext, ngettext, use_language
from core.platform.settings import Settings
from core.platform.signing import digest as token_digest
from core.platform.signing import link_token
from core.portal import Portal
from core.requests.context import FormContext, FulfilmentContext, HookContext, HousekeepingContext
from core.requests.fields import (
    PhoneNumber,
    display_phone,
    enum_labels,
    file_upload,
    long_text,
    one_line,
    render_time_choices,
)
from core.requests.lifecycle import FilingEvent, StatusChange
from core.requests.queries import find_request, lock_request, open_requests, owed_requests
from core.requests.request_types import ChargeItem, Choice, FulfilmentMode, FulfilmentResult, RequestType
from core.requests.statuses import CLOSED as CLOSED_STATUSES
from core.requests.statuses import OPEN as OPEN_STATUSES
from core.requests.statuses import Status
from core.views import (
    AttachmentView,
    BackgroundJob,
    ChatMessageView,
    OfficeView,
    OrganisationView,
    RequestView,
    StoreView,
    SystemKind,
    SystemView,
    UserView,
)
from core.web.common import portal as portal_of
from core.web.common import viewer as viewer_of
from core.web.controllers.auth import anonymous_page
from core.web.logging import secret_path
from core.web.rendering import page as render_page
from core.web.types import HttpRequest
from core.web.viewer import require_customer, require_user

__all__ = [
    "CLOSED_STATUSES",
    "LOCAL_ZONE",
    "N_",
    "OPEN_STATUSES",
    "AccessControl",
    "AccessControlError",
    "AccessControlRefused",
    "AccessControlUnavailable",
    "AccessGroup",
    "AttachmentView",
    "BackgroundJob",
    "ChangeReceipt",
    "ChargeItem",
    "ChatMessageView",
    "Choice",
    "Clock",
    "Conflict",
    "Database",
    "Door",
    "DoorPhoneEntry",
    "Event",
    "EventFilter",
    "EventKind",
    "FilingEvent",
    "Forbidden",
    "FormContext",
    "FulfilmentContext",
    "FulfilmentMode",
    "FulfilmentResult",
    "Holder",
    "HolderKind",
    "HookContext",
    "HousekeepingContext",
    "HttpRequest",
    "MailJob",
    "MailKind",
    "NotFound",
    "OfficeView",
    "OrganisationView",
    "PhoneNumber",
    "Portal",
    "PortalError",
    "RequestType",
    "RequestView",
    "Role",
    "ServiceAccount",
    "Settings",
    "Status",
    "StatusChange",
    "StoreView",
    "SystemKind",
    "SystemUser",
    "SystemView",
    "Tag",
    "TagState",
    "UTCDateTime",
    "UserKind",
    "UserView",
    "ValidationFailed",
    "add_customer_user",
    "anonymous_page",
    "as_utc",
    "csv_chunks",
    "current_language",
    "deactivate_user",
    "display_phone",
    "enum_labels",
    "file_upload",
    "find_organisation",
    "find_request",
    "find_system",
    "find_user",
    "find_user_by_email",
    "gettext",
    "hookimpl",
    "invite_user",
    "link_token",
    "local_today",
    "lock_organisation",
    "lock_request",
    "long_text",
    "ngettext",
    "one_line",
    "open_requests",
    "organisation_users",
    "owed_requests",
    "portal_of",
    "queue_mail",
    "render_page",
    "render_time_choices",
    "reopen_customer_user",
    "require_customer",
    "require_user",
    "secret_path",
    "token_digest",
    "use_language",
    "utc_column",
    "viewer_of",
]
