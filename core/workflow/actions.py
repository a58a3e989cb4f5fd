"""The actions people take on requests, each in its own transaction; shared by pages, API and CLI."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlmodel import Session, select

from core.billing import pricing
from core.billing.pricing import Estimate
from core.models import Organisation, Request, User
from core.platform.errors import Conflict, NotFound, ValidationFailed
from core.requests import attachments
from core.requests.attachments import StagedFile
from core.requests.context import FormContext, form_context_for
from core.requests.filing import Filing, draft_request, prepare_filing, validate_submission, write_filing
from core.requests.lifecycle import Action, apply
from core.requests.queries import follow_up_of, get_request, valid_id
from core.views import RequestView

if TYPE_CHECKING:
    from core.portal import Portal


def file(
    portal: Portal,
    user: User,
    type_key: str,
    payload: dict[str, Any],
    carry_out_on: Any,
    *,
    files: Mapping[str, Sequence[StagedFile]] | None = None,
    expected_estimate: str | None = None,
    follows_up: str = "",
) -> Request:
    """File a request; ``files`` are the checked uploads of the form's file fields, already in the storage.

    ``follows_up`` names the request this one follows up (``BB-12``, from a closed request's "new request
    about this"); it is kept with the request when it is one of the organisation's, and dropped otherwise.

    Their names become the fields' values and their rows are written in the filing transaction, as
    attachments of the request (``origin`` ``form:<field>:<n>``, no chat message); if filing fails they
    are removed from the storage again.
    """
    files = files or {}
    try:
        request_type = portal.registry.get(type_key)
        if request_type is None or (request_type.administrators_only and not user.is_org_admin):
            raise NotFound("There is no request type %(key)s.", key=type_key)
        payload = _with_file_names(request_type.schema, payload, files)

        def prepare(session: Session) -> Filing:
            organisation = session.get(Organisation, user.organisation_id) if user.organisation_id else None
            if organisation is None or request_type is None:
                raise NotFound("There is no request type %(key)s.", key=type_key)
            return prepare_filing(
                session,
                request_type=request_type,
                user=user,
                organisation=organisation,
                payload=payload,
                carry_out_on=carry_out_on,
                clock=portal.clock,
                access_control_for=portal.access_control,
            )

        prepared: Filing | None = None
        if not request_type.validate_while_writing:
            with portal.database.reading() as session:
                prepared = prepare(session)

        def write(session: Session) -> Request:
            if prepared is None:  # validate_while_writing: one filing of the organisation at a time
                session.exec(select(Organisation.id).where(Organisation.id == user.organisation_id).with_for_update())
            filing = prepared or prepare(session)
            earlier = follow_up_of(session, user, follows_up) if follows_up else None
            filing.request.follows_up_id = earlier.id if earlier is not None else None
            request = write_filing(
                session,
                filing,
                clock=portal.clock,
                hooks=portal.hooks,
                registry=portal.registry,
                expected_estimate=expected_estimate,
            )
            for field_name, staged in files.items():
                attachments.record(
                    session,
                    staged,
                    request_id=request.id or 0,
                    uploaded_by_id=user.id,
                    origin_prefix=f"form:{field_name}",
                    clock=portal.clock,
                )
            return request

        return portal.database.write_shared(write)
    except BaseException:
        attachments.discard(portal.storage, [item for staged in files.values() for item in staged])
        raise


def _with_file_names(
    schema: type[Any], payload: dict[str, Any], files: Mapping[str, Sequence[StagedFile]]
) -> dict[str, Any]:
    """File fields take the names of the files actually uploaded; names sent as data (the JSON API) are refused."""
    from core.platform.i18n import gettext as _
    from core.requests.forms import build_fields, file_fields

    payload = dict(payload)
    errors: dict[str, list[str]] = {}
    for form_field in file_fields(build_fields(schema)):
        if form_field.name in files:
            payload[form_field.name] = [item.filename for item in files[form_field.name]]
        elif payload.get(form_field.name):
            errors[form_field.name] = [_("Files cannot be sent as data; attach them in the portal's form.")]
        else:
            payload.pop(form_field.name, None)
    if errors:
        raise ValidationFailed(errors)
    return payload


def problems(
    portal: Portal, user: User, type_key: str, payload: dict[str, Any], carry_out_on: Any
) -> dict[str, list[str]]:
    """What filing would refuse, without filing (the form shows these next to a refused upload's error)."""
    from core.requests.filing import validate_submission

    request_type = portal.registry.get(type_key)
    if request_type is None:
        return {}
    with portal.database.reading() as session:
        context = _form_context(portal, session, user)
        try:
            validate_submission(request_type, payload, context, carry_out_on)
        except ValidationFailed as exc:
            return exc.errors
    return {}


def estimate(
    portal: Portal, user: User, type_key: str, payload: dict[str, Any], carry_out_on: Any
) -> tuple[BaseModel, Estimate]:
    """What filing this would cost now (validated exactly as filing validates it); nothing is written."""
    request_type = portal.registry.get(type_key)
    if request_type is None or user.is_staff or (request_type.administrators_only and not user.is_org_admin):
        raise NotFound("There is no request type %(key)s.", key=type_key)
    with portal.database.reading() as session:
        context = _form_context(portal, session, user)
        if context.organisation is None:
            raise NotFound("There is no request type %(key)s.", key=type_key)
        data, when = validate_submission(request_type, payload, context, carry_out_on)
        draft = draft_request(request_type, data, when=when, context=context)
        items = request_type.charge_items(data, RequestView.of(draft))
        return data, pricing.estimate(
            session, organisation_id=draft.organisation_id, type_key=type_key, items=items, moment=draft.created_at
        )


def _form_context(portal: Portal, session: Session, user: User) -> FormContext:
    """The context a type's form checks run in, for ``user`` (their organisation, the clock, the systems)."""
    organisation = session.get(Organisation, user.organisation_id) if user.organisation_id else None
    return form_context_for(
        session=session,
        user=user,
        organisation=organisation,
        clock=portal.clock,
        access_control_for=portal.access_control,
    )


def to_confirm(portal: Portal, user: User, type_key: str, data: BaseModel) -> list[str]:
    """What the customer must confirm before ``data`` (validated) is filed from a form: the type's lines."""
    request_type = portal.registry.require(type_key)
    with portal.database.reading() as session:
        context = _form_context(portal, session, user)
        return list(request_type.to_confirm(data, context))


def confirmation_mark(lines: list[str]) -> str:
    """What a confirmation page sends back: it stands for exactly the lines the customer saw ("" for none)."""
    if not lines:
        return ""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]


def perform(
    portal: Portal,
    actor: User | None,
    request_id: int,
    action: Action,
    *,
    reason: str = "",
    assignee_id: int | None = None,
    **extra: Any,
) -> Request:
    """Load the request as ``actor`` may see it and apply ``action``; ``Conflict`` says why it cannot be done."""
    with portal.database.writing() as session:
        request = _load(session, actor, request_id)
        assignee = None
        if action == Action.ASSIGN:
            assignee = session.get(User, assignee_id) if valid_id(assignee_id) else None
            if assignee is None:
                raise Conflict("Choose an active colleague to pass the request to.")
        try:
            return apply(
                session,
                request,
                action,
                actor,
                request_type=portal.registry.get(request.type_key),
                clock=portal.clock,
                hooks=portal.hooks,
                registry=portal.registry,
                reason=reason,
                assignee=assignee,
                **extra,
            )
        except Conflict as exc:
            if action == Action.TAKE:
                _explain_lost_take(portal, request_id, exc)
            raise


def change_date(portal: Portal, user: User, request_id: int, value: Any) -> Request:
    """A scheduled request gets a new "carry out on" date; today (or empty) means "carry it out now"."""
    from core.platform.clock import local_today
    from core.platform.errors import ValidationFailed
    from core.platform.i18n import gettext as _
    from core.requests.filing import CARRY_OUT_ON, parse_carry_out_on

    when, error = parse_carry_out_on(value)
    today = local_today(portal.clock)
    if error:
        raise ValidationFailed({CARRY_OUT_ON: [error]})
    if when is not None and when < today:
        raise ValidationFailed({CARRY_OUT_ON: [_("The date has passed; choose today or a later date.")]})
    if when is None or when == today:
        return perform(portal, user, request_id, Action.BRING_FORWARD)
    return perform(portal, user, request_id, Action.RESCHEDULE, carry_out_on=when)


def _explain_lost_take(portal: Portal, request_id: int, exc: Conflict) -> None:
    """Two staff took the same request: the one who lost is told who has it (read after the winner's commit)."""
    with portal.database.reading() as session:
        current = session.get(Request, request_id)
        holder = session.get(User, current.assignee_id) if current and current.assignee_id else None
    if holder is not None:
        raise Conflict("%(name)s already has this request.", name=holder.name) from exc


def _load(session: Session, actor: User | None, request_id: int) -> Request:
    if actor is None:
        request = session.get(Request, request_id) if valid_id(request_id) else None
        if request is None:
            raise NotFound("There is no such request.")
        return request
    return get_request(session, actor, request_id)


def staff_colleagues(session: Session) -> list[User]:
    return list(session.exec(select(User).where(User.kind == "staff", User.active == True).order_by(User.name)))  # noqa: E712
