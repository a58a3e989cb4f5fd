"""Staff look at inbound mail the intake could not attach: attach it to a request, or file it as a new one.

Filing a mail as a new request goes through the chosen request type's own form, filled in by staff for the
organisation user it is filed for (the mail's text prefilled where the form takes a longer text): the core
knows no request type by name, and every request must be valid under its type's schema. The mail's text
becomes the request's first message, and the history says which staff member filed it from a mail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from core.accounts import auth
from core.conversation.intake import quarantine
from core.conversation.intake.quarantine import mail_text, sender_user
from core.models import InboundMail, Organisation, Request, User
from core.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.platform.i18n import gettext
from core.requests.context import form_context_for
from core.requests.filing import CARRY_OUT_ON
from core.requests.forms import REFRESH, FormField, build_fields, decode, form_values, narrow, render_choices
from core.requests.queries import valid_id
from core.requests.request_types import RequestType
from core.requests.statuses import OPEN
from core.web.common import NOTICES, FormBody, form_value, portal, user, viewer
from core.web.rendering import page
from core.web.request_pages import all_fields
from core.web.types import HttpRequest
from core.web.viewer import require_staff

PAGE_SIZE = 50
OPEN_REQUESTS_SHOWN = 10


def _mail_page(
    request: HttpRequest,
    mail_id: int,
    *,
    error: str = "",
    status_code: int = 200,
    new_errors: dict[str, list[str]] | None = None,
    new_values: dict[str, str] | None = None,
) -> Template:
    with portal(request).database.reading() as session:
        row = session.get(InboundMail, mail_id) if valid_id(mail_id) else None
        if row is None:
            raise NotFound("There is no such mail.")
        sender = sender_user(session, row)
        organisation = session.get(Organisation, sender.organisation_id) if sender and sender.organisation_id else None
        open_requests = (
            list(
                session.exec(
                    select(Request)
                    .where(Request.organisation_id == organisation.id, col(Request.status).in_(list(OPEN)))
                    .order_by(col(Request.id).desc())
                    .limit(OPEN_REQUESTS_SHOWN)
                )
            )
            if organisation is not None
            else []
        )
    return page(
        "staff/quarantine_mail.html",
        viewer(request),
        status_code=status_code,
        mail=row,
        body=mail_text(row),
        error=error,
        organisation=organisation,
        open_requests=open_requests,
        registry=portal(request).registry,
        new_errors=new_errors or {},
        new_values=new_values or {"user": sender.email if sender else ""},
    )


def _filing_for(session: Session, registry: Any, type_key: str, email: str) -> tuple[RequestType, User, Organisation]:
    """The request type and the organisation user staff file a mail for, or field errors saying what is wrong."""
    errors: dict[str, list[str]] = {}
    request_type = registry.get(type_key) if type_key else None
    if request_type is None:
        errors["type"] = [gettext("Choose a request type.")]
    customer = session.exec(select(User).where(User.email == auth.normalise_email(email))).first() if email else None
    organisation = None
    if customer is None or customer.is_staff or not customer.active or customer.organisation_id is None:
        errors["user"] = [gettext("There is no active customer user with this e-mail address.")]
    else:
        organisation = session.get(Organisation, customer.organisation_id)
        if request_type is not None and request_type.administrators_only and not customer.is_org_admin:
            errors["type"] = [
                gettext("Only the organisation's administrators can file this request; choose one of them.")
            ]
    if errors or request_type is None or customer is None or organisation is None:
        raise ValidationFailed(errors)
    return request_type, customer, organisation


def _prefill(fields: list[FormField], body: str) -> dict[str, str]:
    """The mail's text in the form's first longer text field (the core knows no field by name)."""
    for form_field in fields:
        if form_field.kind == "textarea":
            return {form_field.name: body[: form_field.max_length] if form_field.max_length else body}
    return {}


class QuarantineController(Controller):
    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)
    path = "/staff/quarantine"
    guards = [require_staff]

    @get("/", sync_to_thread=True)
    def index(self, request: HttpRequest, notice: FromQuery[str] = "") -> Template:
        with portal(request).database.reading() as session:
            rows = list(
                session.exec(
                    select(InboundMail)
                    .where(InboundMail.status == "quarantined")
                    .order_by(col(InboundMail.id).desc())
                    .limit(PAGE_SIZE)
                )
            )
        return page("staff/quarantine.html", viewer(request), rows=rows, notice=NOTICES.get(notice, ""))

    @get("/{mail_id:int}", sync_to_thread=True)
    def show(self, request: HttpRequest, mail_id: FromPath[int]) -> Template:
        return _mail_page(request, mail_id)

    @post("/{mail_id:int}/attach", sync_to_thread=True)
    def attach(self, request: HttpRequest, mail_id: FromPath[int], data: FormBody) -> Template | Redirect:
        try:
            target = quarantine.attach(portal(request), user(request), mail_id, form_value(data, "request"))
        except Conflict as exc:
            return _mail_page(request, mail_id, error=gettext(exc.detail), status_code=409)
        return Redirect(f"/staff/requests/{target.id}?notice=attached")

    @get("/{mail_id:int}/new", sync_to_thread=True)
    def new_request_form(
        self, request: HttpRequest, mail_id: FromPath[int], type: FromQuery[str] = "", user: FromQuery[str] = ""
    ) -> Template:
        """Step two of filing a mail as a new request: the chosen type's form, for the chosen user."""
        the_portal = portal(request)
        with the_portal.database.reading() as session:
            row = session.get(InboundMail, mail_id) if valid_id(mail_id) else None
            if row is None or row.status != "quarantined":
                raise NotFound("There is no such mail.")
            try:
                request_type, customer, organisation = _filing_for(session, the_portal.registry, type, user)
            except ValidationFailed as exc:
                return _mail_page(
                    request, mail_id, status_code=422, new_errors=exc.errors, new_values={"type": type, "user": user}
                )
        fields = self._fields(request, request_type, customer, organisation)
        return self._form(
            request, row, request_type, customer, organisation, fields, _prefill(fields, mail_text(row)), {}
        )

    @post("/{mail_id:int}/new", sync_to_thread=True)
    def file_new_request(self, request: HttpRequest, mail_id: FromPath[int], data: FormBody) -> Template | Redirect:
        the_portal, staff = portal(request), user(request)
        values = form_values(data)
        type_key, email = form_value(data, "type"), form_value(data, "user")
        values.pop("type", None)
        values.pop("user", None)
        refresh = str(values.pop("step", "")).startswith(REFRESH)
        with the_portal.database.reading() as session:
            row = session.get(InboundMail, mail_id) if valid_id(mail_id) else None
            if row is None or row.status != "quarantined":
                raise NotFound("There is no such mail.")
            try:
                request_type, customer, organisation = _filing_for(session, the_portal.registry, type_key, email)
            except ValidationFailed as exc:
                return _mail_page(request, mail_id, status_code=422, new_errors=exc.errors)
        fields = self._fields(request, request_type, customer, organisation)
        if refresh:  # "Välj system": the form again with the chosen system's choices, nothing filed
            return self._form(request, row, request_type, customer, organisation, fields, values, {})
        try:
            filed = quarantine.file_as_request(
                the_portal,
                staff,
                mail_id,
                request_type=request_type,
                customer=customer,
                organisation=organisation,
                payload=decode(fields, values),
                carry_out_on=form_value(data, CARRY_OUT_ON),
            )
        except ValidationFailed as exc:
            return self._form(
                request, row, request_type, customer, organisation, fields, values, exc.errors, status_code=422
            )
        except (Conflict, Forbidden) as exc:
            return _mail_page(request, mail_id, error=gettext(exc.detail), status_code=409)
        return Redirect(f"/staff/requests/{filed.id}?notice=filed_from_mail")

    def _fields(
        self, request: HttpRequest, request_type: RequestType, customer: User, organisation: Organisation
    ) -> list[FormField]:
        """The type's form as the customer would see it: their organisation's systems and the like."""
        the_portal = portal(request)
        with the_portal.database.reading() as session:
            context = form_context_for(
                session=session,
                user=customer,
                organisation=organisation,
                clock=the_portal.clock,
                access_control_for=the_portal.access_control,
            )
            choices = render_choices(request_type, request_type.schema, context)
        # No file inputs: this form is not multipart, and the mail's own attachments come with its message.
        return [f for f in build_fields(request_type.schema, choices) if f.kind != "file"]

    def _form(
        self,
        request: HttpRequest,
        row: InboundMail,
        request_type: RequestType,
        customer: User,
        organisation: Organisation,
        fields: list[FormField],
        values: Mapping[str, str | list[str]],
        errors: dict[str, list[str]],
        *,
        status_code: int = 200,
    ) -> Template:
        from core.platform.clock import local_today

        narrow(fields, values)  # the chosen system's holders, groups, doors (the customer's form does the same)
        labels = {f.name: f.label for f in all_fields(fields)}
        return page(
            "staff/quarantine_new_request.html",
            viewer(request),
            status_code=status_code,
            mail=row,
            body=mail_text(row),
            request_type=request_type,
            customer=customer,
            organisation=organisation,
            fields=fields,
            values=values,
            errors=errors,
            labels=labels,
            today=local_today(portal(request).clock).isoformat(),
        )
