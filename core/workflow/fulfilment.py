"""Carrying a request out: the worker side of the automatic and on-approval fulfilment modes.

Both functions are safe to run twice for the same request (a redelivered message, a retry): they act
only while the request's state says the work is still owed, and the hook itself must be idempotent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.conversation.chat import add_message
from core.models import Request
from core.platform import i18n
from core.platform.errors import Conflict
from core.platform.i18n import N_
from core.platform.storage import StorageUnavailable
from core.requests.context import FulfilmentContext
from core.requests.lifecycle import Action, apply
from core.requests.request_types import FulfilmentMode, FulfilmentResult
from core.requests.statuses import Status
from core.views import RequestView

if TYPE_CHECKING:
    from core.portal import Portal


def start_automatic(portal: Portal, request_id: int) -> None:
    """A request of an automatic type reached the queue: the ``system`` actor takes it and carries it out."""
    with portal.database.writing() as session:
        request = session.get(Request, request_id)
        if request is None:
            return
        request_type = portal.registry.get(request.type_key)
        if request_type is None or request_type.mode_for(request.data) != FulfilmentMode.AUTOMATIC:
            return
        if request.status == Status.PENDING and not request.fulfilment_running:
            apply(
                session,
                request,
                Action.START_FULFILMENT,
                None,
                request_type=request_type,
                clock=portal.clock,
                hooks=portal.hooks,
                registry=portal.registry,
            )
    # The "fulfil" outbox row written by START_FULFILMENT does the work, so a crash here loses nothing.


NOT_INSTALLED = N_("The request type %(key)s is not installed, so it cannot be carried out automatically.")
STORAGE_FAILED = N_(
    "The automatic step could not store its file: the file storage failed on every attempt. Press Retry when "
    "it works again, or carry the request out by hand."
)
STOPPED = N_("The automatic step stopped with an error: %(error)s. Press Retry, or carry the request out by hand.")


def _staff_note(portal: Portal, message: str, **params: str) -> str:
    """A note for staff in the installation's language; the error's own text stays as the system gave it."""
    with i18n.use_language(portal.settings.default_language):
        return i18n.gettext(message, **params)


def run(portal: Portal, request_id: int, *, may_retry: bool = False) -> FulfilmentResult | None:
    """Run the type's hook for a request whose fulfilment is marked running, then record the outcome.

    A hook that could not store its file (:class:`StorageUnavailable`: a full disk, a share gone) is not a
    failure of the request while ``may_retry``: the error goes up, the outbox runs the job again after its
    backoff, and the request stays in its fulfilment meanwhile. The last attempt records a failure for staff.
    """
    with portal.database.reading() as session:
        request = session.get(Request, request_id)
    if request is None or not request.fulfilment_running:
        return None  # already finished (a redelivery), or never started
    request_type = portal.registry.get(request.type_key)
    if request_type is None:
        result = FulfilmentResult(ok=False, internal_note=_staff_note(portal, NOT_INSTALLED, key=request.type_key))
    else:
        context = FulfilmentContext(
            database=portal.database,
            clock=portal.clock,
            settings=portal.settings,
            storage=portal.storage,
            portal=portal,
        )
        try:
            result = request_type.fulfil(RequestView.of(request), context)
        except StorageUnavailable:
            if may_retry:
                raise
            result = FulfilmentResult(ok=False, internal_note=_staff_note(portal, STORAGE_FAILED))
        except Exception as exc:  # a plugin's failure becomes a note for staff, never a lost request
            error = f"{type(exc).__name__}: {exc}"
            result = FulfilmentResult(ok=False, internal_note=_staff_note(portal, STOPPED, error=error))
    with portal.database.writing() as session:
        fresh = session.get(Request, request_id)
        if fresh is None or not fresh.fulfilment_running:
            return None
        try:
            apply(
                session,
                fresh,
                Action.FULFILMENT_SUCCEEDED if result.ok else Action.FULFILMENT_FAILED,
                None,
                request_type=request_type,
                clock=portal.clock,
                hooks=portal.hooks,
                registry=portal.registry,
                details=result.details,
            )
        except Conflict:
            return None
        note = result.internal_note or ("" if result.ok else "The fulfilment failed.")
        for body, internal in ((note, True), (result.customer_message, False)):
            if body:
                add_message(
                    session,
                    fresh,
                    author=None,
                    body=body,
                    internal=internal,
                    via="system",
                    clock=portal.clock,
                    hooks=portal.hooks,
                    registry=portal.registry,
                )
    return result
