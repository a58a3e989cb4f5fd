"""Billing pages and API: price lists, agreements, the invoice basis and closing months (admins); charge lines
on the staff request page (staff); the estimate, a request's charges and the invoice basis in the JSON API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field
from sqlmodel import col, select

from core.billing import catalogue, invoicing, recording
from core.billing.models import Charge, Unit
from core.billing.money import format_money
from core.billing.periods import local_month, month_key, next_month, parse_month, previous_month
from core.billing.pricing import Estimate
from core.models import Organisation, User
from core.platform.errors import Conflict, NotFound, ValidationFailed
from core.platform.i18n import N_, current_language
from core.platform.i18n import gettext as _
from core.requests.queries import get_request
from core.web.api_answers import problems
from core.web.common import NOTICES, FormBody, flat_form, portal, user, viewer
from core.web.rendering import page
from core.web.request_pages import request_page
from core.web.types import HttpRequest
from core.web.viewer import require_admin, require_customer, require_staff, require_user
from core.workflow import actions as workflow

NOTICES.update(
    {
        "charge_added": N_("The charge has been added."),
        "charge_credited": N_("The line has been credited."),
        "charge_adjusted": N_("The line has been credited and replaced."),
        "charges_approved": N_("The charges are approved and final."),
        "month_closed": N_("The month is closed."),
        "agreement_saved": N_("The agreement has been saved."),
        "price_list_saved": N_("The price list has been saved."),
    }
)


def form_list(data: dict[str, Any], key: str) -> list[str]:
    """Every value of a field sent more than once (a group of checkboxes)."""
    value = data.get(key, [])
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values if str(v).strip()]


def _month(text: str) -> date:
    month = parse_month(text)
    if month is None:
        raise NotFound("There is no such month.")
    return month


def _message(exc: Conflict) -> str:
    return _(exc.detail, **exc.params) if exc.params else _(exc.detail)


# --- Staff: charge lines on the request page ---------------------------------------------------------------


class BillingStaffController(Controller):
    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)
    path = "/staff/requests/{request_id:int}/charges"
    guards = [require_staff]

    def _change(
        self, request: HttpRequest, request_id: int, form: str, values: dict[str, str], change: Any, notice: str
    ) -> Template | Redirect:
        the_portal = portal(request)
        try:
            with the_portal.database.writing() as session:
                found = get_request(session, user(request), request_id)
                change(session, found)
        except ValidationFailed as exc:
            return request_page(
                request,
                request_id,
                status_code=422,
                staff=True,
                billing_form=form,
                billing_values=values,
                billing_errors=exc.errors,
            )
        except Conflict as exc:
            return request_page(request, request_id, status_code=409, staff=True, error=_message(exc))
        return Redirect(f"/staff/requests/{request_id}?notice={notice}#charges-title")

    @post("/", sync_to_thread=True)
    def add(self, request: HttpRequest, request_id: FromPath[int], data: FormBody) -> Template | Redirect:
        values = flat_form(data)
        the_portal, actor = portal(request), user(request)

        def change(session: Any, found: Any) -> None:
            recording.add_charge(
                session,
                request=found,
                request_type=the_portal.registry.get(found.type_key),
                actor=actor,
                values=values,
                clock=the_portal.clock,
            )

        return self._change(request, request_id, "add", values, change, "charge_added")

    @post("/approve", sync_to_thread=True)
    def approve(self, request: HttpRequest, request_id: FromPath[int]) -> Template | Redirect:
        the_portal, actor = portal(request), user(request)

        def change(session: Any, found: Any) -> None:
            recording.approve_charges(session, request=found, actor=actor, clock=the_portal.clock)

        return self._change(request, request_id, "approve", {}, change, "charges_approved")

    @post("/{charge_id:int}/credit", sync_to_thread=True)
    def credit(
        self, request: HttpRequest, request_id: FromPath[int], charge_id: FromPath[int], data: FormBody
    ) -> Template | Redirect:
        values = flat_form(data)
        the_portal, actor = portal(request), user(request)

        def change(session: Any, found: Any) -> None:
            recording.credit_charge(
                session,
                request=found,
                actor=actor,
                charge_id=charge_id,
                reason=values.get("reason", ""),
                clock=the_portal.clock,
            )

        return self._change(request, request_id, f"credit-{charge_id}", values, change, "charge_credited")

    @post("/{charge_id:int}/adjust", sync_to_thread=True)
    def adjust(
        self, request: HttpRequest, request_id: FromPath[int], charge_id: FromPath[int], data: FormBody
    ) -> Template | Redirect:
        values = flat_form(data)
        the_portal, actor = portal(request), user(request)

        def change(session: Any, found: Any) -> None:
            recording.adjust_charge(
                session, request=found, actor=actor, charge_id=charge_id, values=values, clock=the_portal.clock
            )

        return self._change(request, request_id, f"adjust-{charge_id}", values, change, "charge_adjusted")


# --- Admin: price lists, agreements, the invoice basis -------------------------------------------------------


class BillingAdminController(Controller):
    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)
    path = "/admin"
    guards = [require_admin]

    @get("/price-lists", sync_to_thread=True)
    def price_lists(self, request: HttpRequest, notice: FromQuery[str] = "") -> Template:
        with portal(request).database.reading() as session:
            rows = catalogue.price_lists(session)
        return page("admin/price_lists.html", viewer(request), rows=rows, notice=NOTICES.get(notice, ""))

    @get("/price-lists/new", sync_to_thread=True)
    def new_price_list(self, request: HttpRequest, copy: FromQuery[int] = 0) -> Template:
        values: dict[str, str] = {}
        if copy:
            with portal(request).database.reading() as session:
                for index, item in enumerate(catalogue.items_of(session, copy)):
                    values.update(
                        {
                            f"items-{index}-code": item.code,
                            f"items-{index}-name_sv": item.name_sv,
                            f"items-{index}-name_en": item.name_en,
                            f"items-{index}-unit": item.unit,
                            f"items-{index}-unit_price": format_money(item.unit_price_ore).replace("\xa0kr", ""),
                            f"items-{index}-vat_percent": str(item.vat_percent),
                        }
                    )
        return self._price_list_form(request, values=values, errors={})

    def _price_list_form(
        self,
        request: HttpRequest,
        *,
        values: dict[str, str],
        errors: dict[str, list[str]],
        extra_rows: int = 0,
        status_code: int = 200,
    ) -> Template:
        rows = catalogue.item_rows(values)
        if extra_rows:
            rows = catalogue.item_rows(values, minimum=len(rows) + extra_rows)
        labels = {"name": _("Name"), "valid_from": _("Valid from"), "valid_to": _("Last day")}
        for row in rows:
            for field, label in catalogue.ITEM_LABELS.items():
                labels[row.name(field)] = _("%(field)s, row %(n)s", field=_(label), n=row.index + 1)
        return page(
            "admin/price_list_new.html",
            viewer(request),
            status_code=status_code,
            values=values,
            errors=errors,
            labels=labels,
            rows=rows,
            units=[(unit.value, unit.label) for unit in Unit],
            vat_rates=catalogue.VAT_RATES,
        )

    @post("/price-lists", sync_to_thread=True)
    def create_price_list(self, request: HttpRequest, data: FormBody) -> Template | Redirect:
        values = flat_form(data)
        if values.pop("more", ""):
            return self._price_list_form(request, values=values, errors={}, extra_rows=4)
        the_portal = portal(request)
        try:
            with the_portal.database.writing() as session:
                created = catalogue.create_price_list(session, values, actor=user(request), clock=the_portal.clock)
        except ValidationFailed as exc:
            return self._price_list_form(request, values=values, errors=exc.errors, status_code=422)
        return Redirect(f"/admin/price-lists/{created.id}?notice=price_list_saved")

    @get("/price-lists/{list_id:int}", sync_to_thread=True)
    def price_list(self, request: HttpRequest, list_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
        return self._price_list_page(request, list_id, notice=NOTICES.get(notice, ""))

    def _price_list_page(
        self,
        request: HttpRequest,
        list_id: int,
        *,
        notice: str = "",
        errors: dict[str, list[str]] | None = None,
        values: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        from core.billing.models import PriceList

        with portal(request).database.reading() as session:
            found = session.get(PriceList, list_id)
            if found is None:
                raise NotFound("There is no such price list.")
            items = catalogue.items_of(session, list_id)
        return page(
            "admin/price_list.html",
            viewer(request),
            status_code=status_code,
            price_list=found,
            items=items,
            notice=notice,
            errors=errors or {},
            values=values or {},
        )

    @post("/price-lists/{list_id:int}/end", sync_to_thread=True)
    def end_price_list(self, request: HttpRequest, list_id: FromPath[int], data: FormBody) -> Template | Redirect:
        values = flat_form(data)
        the_portal = portal(request)
        try:
            with the_portal.database.writing() as session:
                catalogue.set_price_list_end(session, list_id, values.get("valid_to", ""), clock=the_portal.clock)
        except ValidationFailed as exc:
            return self._price_list_page(request, list_id, errors=exc.errors, values=values, status_code=422)
        return Redirect(f"/admin/price-lists/{list_id}?notice=saved")

    @get("/organisations/{organisation_id:int}/agreements", sync_to_thread=True)
    def agreements(self, request: HttpRequest, organisation_id: FromPath[int], notice: FromQuery[str] = "") -> Template:
        return self._agreements_page(request, organisation_id, notice=NOTICES.get(notice, ""))

    def _agreements_page(
        self,
        request: HttpRequest,
        organisation_id: int,
        *,
        notice: str = "",
        form: str = "",
        values: dict[str, str] | None = None,
        included: list[str] | None = None,
        errors: dict[str, list[str]] | None = None,
        status_code: int = 200,
    ) -> Template:
        the_portal = portal(request)
        with the_portal.database.reading() as session:
            organisation = session.get(Organisation, organisation_id)
            if organisation is None:
                raise NotFound("There is no such organisation.")
            rows = catalogue.agreements_of(session, organisation_id)
            codes = catalogue.known_codes(session)
        values = values or {}
        quota_rows = catalogue.quota_rows(values if form == "new" else {})
        labels = {
            "valid_from": _("Valid from"),
            "valid_to": _("Last day"),
            "discount": _("Discount in percent"),
            "included_types": _("Included request types"),
            "note": _("Note"),
        }
        for row in quota_rows:
            n = int(row["index"]) + 1
            labels[f"quota-{row['index']}-code"] = _("%(field)s, row %(n)s", field=_("Item code"), n=n)
            labels[f"quota-{row['index']}-per_month"] = _("%(field)s, row %(n)s", field=_("Units per month"), n=n)
        return page(
            "admin/agreements.html",
            viewer(request),
            status_code=status_code,
            organisation=organisation,
            agreements=rows,
            registry=the_portal.registry,
            types=list(the_portal.registry),
            codes=codes,
            form=form,
            values=values,
            included=included or [],
            quota_rows=quota_rows,
            labels=labels,
            errors=errors or {},
            notice=notice,
        )

    @post("/organisations/{organisation_id:int}/agreements", sync_to_thread=True)
    def create_agreement(
        self, request: HttpRequest, organisation_id: FromPath[int], data: FormBody
    ) -> Template | Redirect:
        values = flat_form(data)
        included = form_list(data, "included_types")
        values.pop("included_types", None)
        the_portal = portal(request)
        try:
            with the_portal.database.writing() as session:
                organisation = session.get(Organisation, organisation_id)
                if organisation is None:
                    raise NotFound("There is no such organisation.")
                catalogue.create_agreement(
                    session,
                    organisation,
                    values,
                    included,
                    type_keys=the_portal.registry.keys,
                    actor=user(request),
                    clock=the_portal.clock,
                )
        except ValidationFailed as exc:
            return self._agreements_page(
                request,
                organisation_id,
                form="new",
                values=values,
                included=included,
                errors=exc.errors,
                status_code=422,
            )
        return Redirect(f"/admin/organisations/{organisation_id}/agreements?notice=agreement_saved")

    @post("/agreements/{agreement_id:int}/end", sync_to_thread=True)
    def end_agreement(self, request: HttpRequest, agreement_id: FromPath[int], data: FormBody) -> Template | Redirect:
        from core.billing.models import Agreement

        values = flat_form(data)
        the_portal = portal(request)
        with the_portal.database.reading() as session:
            agreement = session.get(Agreement, agreement_id)
        if agreement is None:
            raise NotFound("There is no such agreement.")
        try:
            with the_portal.database.writing() as session:
                catalogue.set_agreement_end(session, agreement_id, values.get("valid_to", ""), clock=the_portal.clock)
        except ValidationFailed as exc:
            return self._agreements_page(
                request,
                agreement.organisation_id,
                form=f"end-{agreement_id}",
                values=values,
                errors=exc.errors,
                status_code=422,
            )
        return Redirect(f"/admin/organisations/{agreement.organisation_id}/agreements?notice=saved")

    @get("/invoicing", sync_to_thread=True)
    def invoicing_overview(
        self,
        request: HttpRequest,
        month: FromQuery[str] = "",
        notice: FromQuery[str] = "",
        organisation: FromQuery[str] = "",
    ) -> Template | Redirect:
        """The month's organisations and totals (default: last month, the one to invoice now)."""
        the_portal = portal(request)
        current = local_month(the_portal.clock.now())
        chosen = parse_month(month) if month else previous_month(current)
        if chosen is None:
            raise NotFound("There is no such month.")
        if organisation.isascii() and organisation.isdigit():
            return Redirect(f"/admin/invoicing/{month_key(chosen)}/{int(organisation)}")
        with the_portal.database.reading() as session:
            rows = invoicing.month_overview(session, chosen)
            closed = invoicing.closed_month(session, chosen)
            waiting = invoicing.awaiting_approval(session)
            organisations = list(session.exec(select(Organisation).order_by(col(Organisation.name))))
        return page(
            "admin/invoicing.html",
            viewer(request),
            month=chosen,
            key=month_key(chosen),
            previous=month_key(previous_month(chosen)),
            next=month_key(next_month(chosen)),
            can_close=closed is None and chosen < current,
            rows=rows,
            closed=closed,
            waiting=waiting,
            organisations=organisations,
            notice=NOTICES.get(notice, ""),
        )

    @get("/invoicing/{month:str}/{organisation_id:int}", sync_to_thread=True)
    def invoice_basis(self, request: HttpRequest, month: FromPath[str], organisation_id: FromPath[int]) -> Template:
        with portal(request).database.reading() as session:
            basis = invoicing.invoice_basis(session, organisation_id, _month(month))
            names = _names(session, {line.charge.created_by_id for line in basis.lines})
        return page("admin/invoice_basis.html", viewer(request), basis=basis, names=names, language=current_language())

    @get("/invoicing/{month:str}/{organisation_id:int}/csv", sync_to_thread=True)
    def invoice_basis_csv(
        self, request: HttpRequest, month: FromPath[str], organisation_id: FromPath[int]
    ) -> Response[bytes]:
        with portal(request).database.reading() as session:
            basis = invoicing.invoice_basis(session, organisation_id, _month(month))
        return Response(
            invoicing.csv_text(basis).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{invoicing.csv_filename(basis)}"'},
        )

    @get("/invoicing/{month:str}/close", sync_to_thread=True)
    def confirm_close(self, request: HttpRequest, month: FromPath[str]) -> Template:
        chosen = _month(month)
        with portal(request).database.reading() as session:
            rows = invoicing.month_overview(session, chosen)
            closed = invoicing.closed_month(session, chosen)
            waiting = invoicing.awaiting_approval(session)
        return page(
            "admin/confirm_close_month.html",
            viewer(request),
            month=chosen,
            key=month_key(chosen),
            rows=rows,
            closed=closed,
            waiting=waiting,
        )

    @post("/invoicing/{month:str}/close", sync_to_thread=True)
    def close(self, request: HttpRequest, month: FromPath[str]) -> Template | Redirect:
        chosen = _month(month)
        the_portal = portal(request)
        try:
            with the_portal.database.writing() as session:
                invoicing.close_month(session, chosen, actor=user(request), clock=the_portal.clock)
        except Conflict as exc:
            with the_portal.database.reading() as session:
                rows = invoicing.month_overview(session, chosen)
                closed = invoicing.closed_month(session, chosen)
                waiting = invoicing.awaiting_approval(session)
            return page(
                "admin/confirm_close_month.html",
                viewer(request),
                status_code=409,
                month=chosen,
                key=month_key(chosen),
                rows=rows,
                closed=closed,
                waiting=waiting,
                error=_message(exc),
            )
        return Redirect(f"/admin/invoicing?month={month_key(chosen)}&notice=month_closed")


def _names(session: Any, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {u.id or 0: u.name for u in session.exec(select(User).where(col(User.id).in_(wanted)))}


# --- API -------------------------------------------------------------------------------------------------


class EstimateIn(BaseModel):
    type: str = Field(description="The request type's key")
    data: dict[str, Any] = Field(description="The form data, as for filing")
    carry_out_on: date | None = None


class EstimateLineOut(BaseModel):
    code: str
    name: str
    note: str
    quantity: int
    unit: str
    included: str = Field(description='"" (charged), "type" (the type is included) or "quota" (the monthly quota)')
    quota_limit: int | None
    quota_remaining: int | None = Field(description="Units of the quota left this month before this request")
    priced: bool = Field(description="False: no price list covered the item on the day; it is not charged")
    unit_price_ore: int
    discount_percent: float
    vat_percent: int
    amount_ore: int = Field(description="Excluding VAT, after the discount")
    vat_ore: int
    explanation: str


class EstimateOut(BaseModel):
    filed_on: date
    quota_month: str
    agreement_id: int | None
    lines: list[EstimateLineOut]
    amount_ore: int
    vat_ore: int
    total_ore: int
    headline: str = Field(description='e.g. "Beräknad kostnad: 1 250,00 kr exkl. moms"')
    fingerprint: str = Field(description="Send as expected_estimate when filing to be charged exactly this")


def estimate_out(result: Estimate) -> EstimateOut:
    sums = result.totals
    return EstimateOut(
        filed_on=result.filed_on,
        quota_month=month_key(result.quota_month),
        agreement_id=result.agreement_id,
        lines=[
            EstimateLineOut(
                code=line.code,
                name=line.name,
                note=line.note,
                quantity=line.quantity,
                unit=line.unit,
                included=line.included_by.value,
                quota_limit=line.quota_limit,
                quota_remaining=line.quota_remaining,
                priced=line.priced,
                unit_price_ore=line.unit_price_ore,
                discount_percent=line.discount_bp / 100,
                vat_percent=line.vat_percent,
                amount_ore=line.amount_ore,
                vat_ore=line.vat_ore,
                explanation=line.explanation(),
            )
            for line in result.lines
        ],
        amount_ore=sums.amount_ore,
        vat_ore=sums.vat_ore,
        total_ore=sums.total_ore,
        headline=result.headline() if result.priced_lines else "",
        fingerprint=result.fingerprint,
    )


class ChargeOut(BaseModel):
    id: int
    request_id: int
    kind: str
    state: str
    code: str
    name: str
    note: str
    quantity: int
    unit: str
    unit_price_ore: int
    discount_percent: float
    vat_percent: int
    amount_ore: int
    vat_ore: int
    total_ore: int
    included: str
    reason: str
    credits_id: int | None
    replaces_id: int | None
    credited: bool
    invoice_month: str | None
    created_at: datetime
    approved_at: datetime | None


def charge_out(line: Charge, credited: set[int]) -> ChargeOut:
    return ChargeOut(
        id=line.id or 0,
        request_id=line.request_id,
        kind=line.kind,
        state=line.state,
        code=line.code,
        name=line.name(current_language()),
        note=line.note,
        quantity=line.quantity,
        unit=line.unit,
        unit_price_ore=line.unit_price_ore,
        discount_percent=line.discount_bp / 100,
        vat_percent=line.vat_percent,
        amount_ore=line.amount_ore,
        vat_ore=line.vat_ore,
        total_ore=line.total_ore,
        included=line.included_by,
        reason=line.reason,
        credits_id=line.credits_id,
        replaces_id=line.replaces_id,
        credited=(line.id or 0) in credited,
        invoice_month=month_key(line.invoice_month) if line.invoice_month else None,
        created_at=line.created_at,
        approved_at=line.approved_at,
    )


class RequestChargesOut(BaseModel):
    request_id: int
    estimate: EstimateOut | None = Field(description="Recorded when the request was filed")
    lines: list[ChargeOut]
    amount_ore: int = Field(description="Sum of the lines, excluding VAT")
    vat_ore: int
    total_ore: int


class InvoiceBasisOut(BaseModel):
    organisation_id: int
    organisation: str
    month: str
    closed: bool
    lines: list[ChargeOut]
    amount_ore: int
    vat_ore: int
    total_ore: int


class CreditIn(BaseModel):
    reason: str


def _charges_out(request: HttpRequest, request_id: int) -> RequestChargesOut:
    with portal(request).database.reading() as session:
        found = get_request(session, user(request), request_id)
        view = recording.request_charges(session, found)
    sums = view.totals
    return RequestChargesOut(
        request_id=request_id,
        estimate=estimate_out(view.estimate) if view.estimate is not None else None,
        lines=[charge_out(line, view.credited) for line in view.lines],
        amount_ore=sums.amount_ore,
        vat_ore=sums.vat_ore,
        total_ore=sums.total_ore,
    )


class BillingApiController(Controller):
    path = "/api/v1"
    guards = [require_user]
    tags = ["billing"]

    @post(
        "/estimates",
        sync_to_thread=True,
        status_code=200,
        guards=[require_customer],
        responses=problems(400, 403, 404, 422),
    )
    def estimate(self, request: HttpRequest, data: JSONBody[EstimateIn]) -> EstimateOut:
        """What filing this request would cost now, under the organisation's agreement (nothing is filed)."""
        _data, result = workflow.estimate(portal(request), user(request), data.type, data.data, data.carry_out_on)
        return estimate_out(result)

    @get(
        "/requests/{request_id:int}/charges",
        sync_to_thread=True,
        responses=problems(400, 404),
    )
    def charges(self, request: HttpRequest, request_id: FromPath[int]) -> RequestChargesOut:
        """The estimate recorded at filing and the charge lines of one request (credits included)."""
        return _charges_out(request, request_id)

    @post(
        "/requests/{request_id:int}/charges/approve",
        sync_to_thread=True,
        status_code=200,
        guards=[require_staff],
        responses=problems(400, 403, 404, 409),
    )
    def approve(self, request: HttpRequest, request_id: FromPath[int]) -> RequestChargesOut:
        """Approve the request's proposed lines: they become final in the current open month."""
        the_portal = portal(request)
        with the_portal.database.writing() as session:
            found = get_request(session, user(request), request_id)
            recording.approve_charges(session, request=found, actor=user(request), clock=the_portal.clock)
        return _charges_out(request, request_id)

    @post(
        "/requests/{request_id:int}/charges/{charge_id:int}/credit",
        sync_to_thread=True,
        status_code=200,
        guards=[require_staff],
        responses=problems(400, 403, 404, 409, 422),
    )
    def credit(
        self, request: HttpRequest, request_id: FromPath[int], charge_id: FromPath[int], data: JSONBody[CreditIn]
    ) -> RequestChargesOut:
        """Credit one line exactly, with a reason."""
        the_portal = portal(request)
        with the_portal.database.writing() as session:
            found = get_request(session, user(request), request_id)
            recording.credit_charge(
                session,
                request=found,
                actor=user(request),
                charge_id=charge_id,
                reason=data.reason,
                clock=the_portal.clock,
            )
        return _charges_out(request, request_id)

    @get(
        "/invoice-basis/{month:str}/{organisation_id:int}",
        sync_to_thread=True,
        guards=[require_admin],
        responses=problems(400, 403, 404),
    )
    def invoice_basis(
        self, request: HttpRequest, month: FromPath[str], organisation_id: FromPath[int]
    ) -> InvoiceBasisOut:
        """An organisation's final charge lines of one month (``2026-04``) with totals excluding VAT, VAT and
        including VAT."""
        with portal(request).database.reading() as session:
            basis = invoicing.invoice_basis(session, organisation_id, _month(month))
        sums = basis.totals
        return InvoiceBasisOut(
            organisation_id=organisation_id,
            organisation=basis.organisation.name,
            month=basis.key,
            closed=basis.closed is not None,
            lines=[charge_out(line.charge, set()) for line in basis.lines],
            amount_ore=sums.amount_ore,
            vat_ore=sums.vat_ore,
            total_ore=sums.total_ore,
        )
