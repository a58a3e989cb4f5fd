"""Carrying a request out: the worker side of the automatic and on-approval fulfilment modes.

Both functions are safe to run twice for the same request (a redelivered message, a retry): they act
only while the request's state says the work is still owed, and the hook itself must be idempotent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from core.conversation.chat import add_message
from core.mail import service as mail
from core.models import Office, Organisation, Request, User
from core.platform import i18n
from core.platform.errors import Conflict
from core.platform.i18n import N_
from core.platform.logs import get_logger
from core.platform.metrics import FULFILMENTS, count
from core.platform.outbox import OutboxMessage, OutboxStatus, enqueue
from core.platform.storage import StorageUnavailable
from core.requests.context import FulfilmentContext
from core.requests.lifecycle import FULFIL_KEY_PREFIX, Action, apply
from core.requests.queries import owed_requests
from core.requests.request_types import FulfilmentMode, FulfilmentResult, RequestType
from core.requests.statuses import Status
from core.views import RequestView

if TYPE_CHECKING:
    from core.portal import Portal

log = get_logger(__name__)


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
STOPPED = N_(
    "The automatic step stopped with an unexpected error; the technical detail is in the history. Press Retry, "
    "or carry the request out by hand."
)
FAILED = N_("The automatic step failed.")
ERROR_DETAIL = "error"
"""The history row of a failed fulfilment keeps the exception's own text under this key (staff see it folded
away on the request page): the note itself stays in the staff's language, whatever the exception said."""
ERROR_DETAIL_MAX = 2000


def _staff_note(portal: Portal, message: str, **params: str) -> str:
    """A note for staff in the installation's language (the words of a person, never an exception's text)."""
    with i18n.use_language(portal.settings.default_language):
        return i18n.gettext(message, **params)


def run(
    portal: Portal, request_id: int, job: OutboxMessage | None = None, *, may_retry: bool = False
) -> FulfilmentResult | None:
    """Run the type's hook for a request whose fulfilment is marked running, then record the outcome.

    ``job`` is the ``fulfil`` outbox row this run came from: a postponed run (``retry_later``, or an earlier
    request about the same thing still owed) queues its successor from it.

    A hook that could not store its file (:class:`StorageUnavailable`: a full disk, a share gone) is not a
    failure of the request while ``may_retry``: the error goes up, the outbox runs the job again after its
    backoff, and the request stays in its fulfilment meanwhile. The last attempt records a failure for staff.
    """
    with portal.database.reading() as session:
        request = session.get(Request, request_id)
        if request is None or not request.fulfilment_running:
            return None  # already finished (a redelivery), or never started
        request_type = portal.registry.get(request.type_key)
        earlier = _owed_before(session, request, request_type)
    if request_type is None:
        result = FulfilmentResult(ok=False, internal_note=_staff_note(portal, NOT_INSTALLED, key=request.type_key))
    elif earlier is not None:
        _postpone(portal, request_id, job, _waiting_for(portal, request, earlier), alert=False)
        _count(request.type_key, "waiting", earlier=earlier.number)
        return None
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
            error = f"{type(exc).__name__}: {exc}"[:ERROR_DETAIL_MAX]
            result = FulfilmentResult(
                ok=False, internal_note=_staff_note(portal, STOPPED), details={ERROR_DETAIL: error}
            )
    if result.retry_later:
        _postpone(portal, request_id, job, result, alert=True)
        _count(request.type_key, "postponed", note=result.internal_note)
        return result
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
        note = result.internal_note or ("" if result.ok else _staff_note(portal, FAILED))
        _post(portal, session, fresh, internal=note, customer=result.customer_message)
    _count(request.type_key, "succeeded" if result.ok else "failed", note=result.internal_note)
    return result


def _count(type_key: str, outcome: str, **details: str) -> None:
    """``bbportal_fulfilments_total`` and a log line (with the job's request id) for each run's outcome."""
    count(FULFILMENTS, type=type_key, outcome=outcome)
    (log.warning if outcome == "failed" else log.info)("fulfilment " + outcome, type=type_key, **details)


def _post(portal: Portal, session: Session, request: Request, *, internal: str, customer: str) -> None:
    for body, is_internal in ((internal, True), (customer, False)):
        if body:
            add_message(
                session,
                request,
                author=None,
                body=body,
                internal=is_internal,
                via="system",
                clock=portal.clock,
                hooks=portal.hooks,
                registry=portal.registry,
            )


# --- postponed runs ---------------------------------------------------------------------------------------

WAITS_FOR = N_("This request is carried out as soon as %(number)s, filed earlier about the same thing, is done.")
WAITS_FOR_NOTE = N_("Waits for %(number)s, filed earlier about the same thing, to be carried out first.")
DELAYED_NOTE = N_(
    "The automatic step has still not succeeded after %(minutes)s minutes; it is retried until it does. "
    "Take the request to carry it out by hand instead, or press Retry."
)


def _owed_before(session: Session, request: Request, request_type: RequestType | None) -> RequestView | None:
    """An earlier request about the same thing (the type's ``ordering_key``) still to be carried out, if any."""
    if request_type is None:
        return None
    try:
        key = request_type.ordering_key(request_type.schema.model_validate(request.data))
    except ValueError:
        return None
    if key is None:
        return None
    owed = owed_requests(session, request_type, request.organisation_id, key)
    return next((other for other in owed if other.id is not None and other.id < (request.id or 0)), None)


def _waiting_for(portal: Portal, request: Request, earlier: RequestView) -> FulfilmentResult:
    with portal.database.reading() as session:
        requester = session.get(User, request.requester_id)
    with i18n.use_language(requester.language if requester is not None else portal.settings.default_language):
        customer = i18n.gettext(WAITS_FOR, number=earlier.number)
    return FulfilmentResult.later(
        customer_message=customer, internal_note=_staff_note(portal, WAITS_FOR_NOTE, number=earlier.number)
    )


def retry_pause(retry: int, *, cap: timedelta) -> timedelta:
    """30 s, 1 min, 2 min … up to ``cap``: soon while the system may be back any moment, then steadily."""
    return min(timedelta(seconds=30 * 2 ** max(retry - 1, 0)), cap)


def _postpone(
    portal: Portal, request_id: int, job: OutboxMessage | None, result: FulfilmentResult, *, alert: bool
) -> None:
    """Queue the next run of a fulfilment that could not be done now; tell people once, and staff when it drags.

    The chain of runs is carried by the ``fulfil`` rows themselves (``retry``, ``since``, ``alerted`` in the
    payload), each queued from the one before with a dedupe key, so a job that runs twice queues one
    successor. A newer run queued meanwhile (staff pressed Retry) takes the chain over and this one ends.
    The customer's line and the staff note are posted at the first postponement only; after
    ``fulfilment_alert_minutes`` the request is flagged (``fulfilment_delayed``) and the alert address mailed.
    """
    payload = job.payload if job is not None else {}
    retry = int(payload.get("retry", 0)) + 1
    now = portal.clock.now()
    since = datetime.fromisoformat(payload["since"]) if "since" in payload else now
    alerted = bool(payload.get("alerted", False))
    with portal.database.writing() as session:
        fresh = session.get(Request, request_id)
        if fresh is None or not fresh.fulfilment_running or _superseded(session, request_id, job):
            return
        due_alert = alert and not alerted and now - since >= timedelta(minutes=portal.settings.fulfilment_alert_minutes)
        if due_alert:
            apply(
                session,
                fresh,
                Action.FULFILMENT_DELAYED,
                None,
                request_type=portal.registry.get(fresh.type_key),
                clock=portal.clock,
                hooks=portal.hooks,
                registry=portal.registry,
            )
            note = _staff_note(portal, DELAYED_NOTE, minutes=str(portal.settings.fulfilment_alert_minutes))
            _post(portal, session, fresh, internal=f"{note}\n{result.internal_note}".strip(), customer="")
            _mail_alert(portal, session, fresh, now, reason=result.internal_note)
            alerted = True
        elif retry == 1:
            _post(portal, session, fresh, internal=result.internal_note, customer=result.customer_message)
        cap = RETRY_CAP if alert else WAIT_CAP
        enqueue(
            session,
            "fulfil",
            {"request_id": request_id, "retry": retry, "since": since.isoformat(), "alerted": alerted},
            f"{FULFIL_KEY_PREFIX}{request_id}:after:{job.id if job is not None else 0}:{retry}",
            now=now,
            available_at=now + retry_pause(retry, cap=cap),
        )


RETRY_CAP = timedelta(minutes=5)
"""The longest pause between two tries of a system that does not answer."""
WAIT_CAP = timedelta(minutes=1)
"""The longest pause of a request waiting for an earlier one about the same thing."""


def _superseded(session: Session, request_id: int, job: OutboxMessage | None) -> bool:
    """Whether a newer run of this request's fulfilment is already queued (then this chain ends here)."""
    newer = session.exec(
        select(OutboxMessage.id).where(
            col(OutboxMessage.topic) == "fulfil",
            col(OutboxMessage.status) == OutboxStatus.PENDING.value,
            col(OutboxMessage.dedupe_key).startswith(f"{FULFIL_KEY_PREFIX}{request_id}:"),
            col(OutboxMessage.id) > (job.id if job is not None and job.id is not None else 0),
        )
    ).first()
    return newer is not None


def _mail_alert(portal: Portal, session: Session, request: Request, now: datetime, *, reason: str) -> None:
    """Mail the alert address (default: the organisation's local office) that an automatic step drags on."""
    address = portal.settings.fulfilment_alert_address
    if not address:
        organisation = session.get(Organisation, request.organisation_id)
        office = session.get(Office, organisation.office_id) if organisation is not None else None
        address = office.email if office is not None else ""
    if address:
        mail.queue(
            session,
            "fulfilment_delayed",
            address,
            request=request,
            dedupe_key=f"mail:fulfilment_delayed:{request.id}:{request.version}",
            now=now,
            minutes=portal.settings.fulfilment_alert_minutes,
            reason=reason[:1000],
        )
