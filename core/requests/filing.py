"""Filing a request: schema validation, the type's own checks, the date rules, then one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from core.models import Organisation, Request, User
from core.platform.clock import Clock, local_today
from core.platform.errors import Forbidden, ValidationFailed
from core.platform.i18n import gettext as _
from core.platform.i18n import use_language
from core.requests import lifecycle
from core.requests.context import AdapterLookup, FormContext, form_context_for
from core.requests.forms import build_fields, error_paths
from core.requests.lifecycle import FilingEvent
from core.requests.request_types import RequestType, RequestTypeRegistry
from core.requests.statuses import Status

CARRY_OUT_ON = "carry_out_on"


def parse_carry_out_on(value: Any) -> tuple[date | None, str | None]:
    """The optional "carry out on" date from a form or JSON body, or the message that explains the error."""
    if value is None or value == "":
        return None, None
    if isinstance(value, date):
        return value, None
    try:
        return date.fromisoformat(str(value).strip()), None
    except ValueError:
        return None, _("Enter a date as YYYY-MM-DD.")


def validate_submission(
    request_type: RequestType, payload: dict[str, Any], context: FormContext, carry_out_on: Any = None
) -> tuple[BaseModel, date | None]:
    """Everything the customer must correct, all at once, keyed by field path; nothing is written."""
    errors: dict[str, list[str]] = {}
    data: BaseModel | None = None
    try:
        data = request_type.schema.model_validate(payload)
    except ValidationError as exc:
        errors.update(error_paths(build_fields(request_type.schema), exc))
    if data is not None:
        for path, message in request_type.validate(data, context).items():
            errors.setdefault(path, []).append(_(message))

    when, date_error = parse_carry_out_on(carry_out_on)
    if date_error:
        errors.setdefault(CARRY_OUT_ON, []).append(date_error)
    elif when is not None:
        today = local_today(context.clock)
        if when < today:
            errors.setdefault(CARRY_OUT_ON, []).append(_("The date has passed; choose today or a later date."))
        elif when > today and not request_type.allows_carry_out_on:
            errors.setdefault(CARRY_OUT_ON, []).append(
                _("This request is carried out at once and cannot be scheduled for later.")
            )
    if errors or data is None:
        raise ValidationFailed(errors)
    return data, when


def draft_request(request_type: RequestType, data: BaseModel, *, when: date | None, context: FormContext) -> Request:
    """The request row validated ``data`` becomes, not yet added to a session.

    Filing stores it; the cost preview hands it, unsaved (``id`` None), to ``RequestType.charge_items``.
    """
    assert context.organisation is not None, "requests are filed in an organisation"
    user, organisation, clock = context.user, context.organisation, context.clock
    now = clock.now()
    status = Status.SCHEDULED if when is not None and when > local_today(clock) else Status.PENDING
    system_id = getattr(data, request_type.system_field) if request_type.system_field else None
    return Request(
        type_key=request_type.key,
        schema_version=request_type.version,
        data=data.model_dump(mode="json"),
        summary=_summary_in(SWEDISH, request_type, data, context),
        summary_en=_summary_in(ENGLISH, request_type, data, context) or None,
        status=status,
        carry_out_on=when,
        queued_at=now if status == Status.PENDING else None,
        priority=1 if request_type.is_urgent(data) else 0,
        organisation_id=organisation.id,
        requester_id=user.id,
        system_id=int(system_id) if system_id is not None else None,
        created_at=now,
        updated_at=now,
    )


SWEDISH, ENGLISH = "sv", "en"


def _summary_in(language: str, request_type: RequestType, data: BaseModel, context: FormContext) -> str:
    """The title in one language: stored in both, so every reader sees it in theirs (``Request.title``)."""
    with use_language(language):
        return (request_type.summary_in_context(data, context) or "")[:300]


@dataclass
class Filing:
    """A validated request, ready to be written: the checks made, the row drafted, nothing stored yet."""

    request_type: RequestType
    user: User
    data: BaseModel
    request: Request


def prepare_filing(
    session: Session,
    *,
    request_type: RequestType,
    user: User,
    organisation: Organisation,
    payload: dict[str, Any],
    carry_out_on: Any,
    clock: Clock,
    access_control_for: AdapterLookup | None = None,
) -> Filing:
    """Everything filing checks (who may file, the schema, the type's own validation, the date), in any session.

    Filing runs this in a read session before it takes its turn as the database's writer, so that a type's
    validation (queries, an access-control system's answer across the network) never holds up the writers
    of other requests. What it checked is a snapshot: fulfilment checks the world again when it acts.
    """
    if user.is_staff or user.organisation_id != organisation.id:
        raise Forbidden("Only users of the organisation can file its requests.")
    if request_type.administrators_only and not user.is_org_admin:
        raise Forbidden("Only your organisation's administrators can file this request.")
    context = form_context_for(
        session=session, user=user, organisation=organisation, clock=clock, access_control_for=access_control_for
    )
    data, when = validate_submission(request_type, payload, context, carry_out_on)
    return Filing(request_type, user, data, draft_request(request_type, data, when=when, context=context))


def write_filing(
    session: Session,
    filing: Filing,
    *,
    clock: Clock,
    hooks: pluggy.HookRelay,
    registry: RequestTypeRegistry | None = None,
    expected_estimate: str | None = None,
    filed_by: User | None = None,
    reason: str = "",
) -> Request:
    """Write a prepared filing in the caller's (write) transaction: the lifecycle's FILE transition.

    ``expected_estimate`` is the fingerprint of the estimate the customer confirmed; billing (an observer)
    refuses the filing when the cost recorded now differs. ``filed_by`` is a staff member filing for the
    requester (a mail from the quarantine): the history names them, with ``reason``.
    """
    event = FilingEvent(request_type=filing.request_type, data=filing.data, expected_estimate=expected_estimate)
    return lifecycle.file(
        session,
        filing.request,
        filing=event,
        requester=filing.user,
        clock=clock,
        hooks=hooks,
        registry=registry,
        filed_by=filed_by,
        reason=reason,
    )


def file_request(
    session: Session,
    *,
    request_type: RequestType,
    user: User,
    organisation: Organisation,
    payload: dict[str, Any],
    carry_out_on: Any,
    clock: Clock,
    hooks: pluggy.HookRelay,
    registry: RequestTypeRegistry | None = None,
    access_control_for: AdapterLookup | None = None,
    expected_estimate: str | None = None,
    filed_by: User | None = None,
    reason: str = "",
) -> Request:
    """Validate and write the request in one (write) transaction: ``prepare_filing`` then ``write_filing``."""
    filing = prepare_filing(
        session,
        request_type=request_type,
        user=user,
        organisation=organisation,
        payload=payload,
        carry_out_on=carry_out_on,
        clock=clock,
        access_control_for=access_control_for,
    )
    return write_filing(
        session,
        filing,
        clock=clock,
        hooks=hooks,
        registry=registry,
        expected_estimate=expected_estimate,
        filed_by=filed_by,
        reason=reason,
    )
