"""Staff administration: organisations with their office, systems and users; offices; stores; staff."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from core.accounts import administration, passwords
from core.models import Office, Organisation, Store, System, User
from core.platform.errors import NotFound, ValidationFailed
from core.requests.queries import valid_id
from core.web.common import NOTICES, FormBody, flat_form, portal, viewer
from core.web.rendering import page
from core.web.types import HttpRequest
from core.web.viewer import require_admin


class AdminController(Controller):
    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)
    path = "/admin"
    guards = [require_admin]

    @get("/organisations", sync_to_thread=True)
    def organisations(self, request: HttpRequest, notice: FromQuery[str] = "") -> Template:
        return self._organisations_page(request, notice=NOTICES.get(notice, ""))

    @post("/organisations", sync_to_thread=True)
    def create_organisation(self, request: HttpRequest, data: FormBody) -> Template | Redirect:
        values = flat_form(data)
        the_portal = portal(request)
        try:
            with the_portal.database.writing() as session:
                organisation = administration.save_organisation(session, values, clock=the_portal.clock)
        except ValidationFailed as exc:
            return self._organisations_page(request, status_code=422, values=values, errors=exc.errors)
        return Redirect(f"/admin/organisations/{organisation.id}?notice=saved")

    def _organisations_page(
        self,
        request: HttpRequest,
        *,
        status_code: int = 200,
        values: dict[str, Any] | None = None,
        errors: dict[str, list[str]] | None = None,
        notice: str = "",
    ) -> Template:
        with portal(request).database.reading() as session:
            rows = session.exec(
                select(Organisation, Office.name)
                .join(Office, col(Organisation.office_id) == col(Office.id))
                .order_by(col(Organisation.name))
            ).all()
            offices = list(session.exec(select(Office).order_by(col(Office.name))))
        return page(
            "admin/organisations.html",
            viewer(request),
            status_code=status_code,
            rows=rows,
            offices=offices,
            values=values or {},
            errors=errors or {},
            notice=notice,
        )

    @get("/organisations/{organisation_id:int}", sync_to_thread=True)
    def organisation(
        self, request: HttpRequest, organisation_id: FromPath[int], notice: FromQuery[str] = ""
    ) -> Template:
        return self._organisation_page(request, organisation_id, notice=NOTICES.get(notice, ""))

    def _organisation_page(
        self,
        request: HttpRequest,
        organisation_id: FromPath[int],
        *,
        status_code: int = 200,
        form: str = "",
        values: dict[str, Any] | None = None,
        errors: dict[str, list[str]] | None = None,
        notice: FromQuery[str] = "",
    ) -> Template:
        with portal(request).database.reading() as session:
            organisation = session.get(Organisation, organisation_id)
            if organisation is None:
                raise NotFound("There is no such organisation.")
            systems = list(
                session.exec(select(System).where(System.organisation_id == organisation_id).order_by(col(System.name)))
            )
            users = list(
                session.exec(select(User).where(User.organisation_id == organisation_id).order_by(col(User.name)))
            )
            offices = list(session.exec(select(Office).order_by(col(Office.name))))
        return page(
            "admin/organisation.html",
            viewer(request),
            status_code=status_code,
            organisation=organisation,
            systems=systems,
            users=users,
            offices=offices,
            form=form,
            values=values or {},
            errors=errors or {},
            notice=notice,
        )

    def _save(
        self,
        request: HttpRequest,
        organisation_id: FromPath[int],
        form: str,
        data: dict[str, Any],
        action: Callable[[Session, Organisation, dict[str, Any]], Any],
    ) -> Template | Redirect:
        values = flat_form(data)
        try:
            with portal(request).database.writing() as session:
                organisation = session.get(Organisation, organisation_id)
                if organisation is None:
                    raise NotFound("There is no such organisation.")
                action(session, organisation, values)
        except ValidationFailed as exc:
            values.pop("password", None)
            return self._organisation_page(
                request, organisation_id, status_code=422, form=form, values=values, errors=exc.errors
            )
        return Redirect(f"/admin/organisations/{organisation_id}?notice=saved")

    @post("/organisations/{organisation_id:int}", sync_to_thread=True)
    def update_organisation(
        self, request: HttpRequest, organisation_id: FromPath[int], data: FormBody
    ) -> Template | Redirect:
        clock = portal(request).clock
        return self._save(
            request,
            organisation_id,
            "organisation",
            data,
            lambda s, o, v: administration.save_organisation(s, v, clock=clock, organisation=o),
        )

    @post("/organisations/{organisation_id:int}/systems", sync_to_thread=True)
    def add_system(self, request: HttpRequest, organisation_id: FromPath[int], data: FormBody) -> Template | Redirect:
        the_portal = portal(request)

        def add(session: Session, organisation: Organisation, values: dict[str, Any]) -> System:
            return administration.add_system(
                session, organisation, values, hooks=the_portal.hooks, clock=the_portal.clock
            )

        return self._save(request, organisation_id, "system", data, add)

    @post("/organisations/{organisation_id:int}/users", sync_to_thread=True)
    def add_user(self, request: HttpRequest, organisation_id: FromPath[int], data: FormBody) -> Template | Redirect:
        clock = portal(request).clock
        the_portal = portal(request)

        def create(session: Session, organisation: Organisation, values: dict[str, Any]) -> User:
            created = administration.create_customer_user(session, organisation, values, clock=clock)
            if created.password_hash is None:
                passwords.invite(session, the_portal, created)
            return created

        return self._save(request, organisation_id, "user", data, create)

    @get("/users/{user_id:int}/deactivate", sync_to_thread=True)
    def confirm_deactivate(self, request: HttpRequest, user_id: FromPath[int]) -> Template:
        with portal(request).database.reading() as session:
            target = session.get(User, user_id)
        if target is None:
            raise NotFound("There is no such user.")
        return page("admin/confirm_deactivate.html", viewer(request), target=target)

    @post("/users/{user_id:int}/deactivate", sync_to_thread=True)
    def deactivate(self, request: HttpRequest, user_id: FromPath[int]) -> Redirect:
        the_portal = portal(request)
        with the_portal.database.writing() as session:
            target = administration.deactivate_user(session, user_id, clock=the_portal.clock)
        if target.organisation_id:
            return Redirect(f"/admin/organisations/{target.organisation_id}?notice=deactivated")
        return Redirect("/admin/staff?notice=deactivated")

    @get("/users/{user_id:int}/email", sync_to_thread=True)
    def edit_email(self, request: HttpRequest, user_id: FromPath[int]) -> Template:
        with portal(request).database.reading() as session:
            target = session.get(User, user_id) if valid_id(user_id) else None
        if target is None:
            raise NotFound("There is no such user.")
        return page(
            "admin/change_email.html", viewer(request), target=target, values={"email": target.email}, errors={}
        )

    @post("/users/{user_id:int}/email", sync_to_thread=True)
    def change_email(self, request: HttpRequest, user_id: FromPath[int], data: FormBody) -> Template | Redirect:
        values = flat_form(data)
        try:
            with portal(request).database.writing() as session:
                target = administration.change_email(session, user_id, values)
        except ValidationFailed as exc:
            with portal(request).database.reading() as session:
                found = session.get(User, user_id)
            return page(
                "admin/change_email.html",
                viewer(request),
                status_code=422,
                target=found,
                values=values,
                errors=exc.errors,
            )
        if target.organisation_id:
            return Redirect(f"/admin/organisations/{target.organisation_id}?notice=saved")
        return Redirect("/admin/staff?notice=saved")

    @get("/offices", sync_to_thread=True)
    def offices(self, request: HttpRequest, notice: FromQuery[str] = "") -> Template:
        return self._simple(request, "admin/offices.html", Office, notice=NOTICES.get(notice, ""))

    @post("/offices", sync_to_thread=True)
    def create_office(self, request: HttpRequest, data: FormBody) -> Template | Redirect:
        return self._create(request, data, administration.create_office, "admin/offices.html", Office, "/admin/offices")

    @get("/stores", sync_to_thread=True)
    def stores(self, request: HttpRequest, notice: FromQuery[str] = "") -> Template:
        return self._simple(request, "admin/stores.html", Store, notice=NOTICES.get(notice, ""))

    @post("/stores", sync_to_thread=True)
    def create_store(self, request: HttpRequest, data: FormBody) -> Template | Redirect:
        return self._create(request, data, administration.create_store, "admin/stores.html", Store, "/admin/stores")

    @get("/staff", sync_to_thread=True)
    def staff(self, request: HttpRequest, notice: FromQuery[str] = "") -> Template:
        return self._staff_page(request, notice=NOTICES.get(notice, ""))

    def _staff_page(
        self,
        request: HttpRequest,
        *,
        status_code: int = 200,
        values: dict[str, Any] | None = None,
        errors: dict[str, list[str]] | None = None,
        notice: FromQuery[str] = "",
    ) -> Template:
        with portal(request).database.reading() as session:
            rows = list(session.exec(select(User).where(User.kind == "staff").order_by(col(User.name))))
        return page(
            "admin/staff.html",
            viewer(request),
            status_code=status_code,
            rows=rows,
            values=values or {},
            errors=errors or {},
            notice=notice,
        )

    @post("/staff", sync_to_thread=True)
    def create_staff(self, request: HttpRequest, data: FormBody) -> Template | Redirect:
        values = flat_form(data)
        the_portal = portal(request)
        try:
            with the_portal.database.writing() as session:
                created = administration.create_staff_user(session, values, clock=the_portal.clock)
                if created.password_hash is None:
                    passwords.invite(session, the_portal, created)
        except ValidationFailed as exc:
            values.pop("password", None)
            return self._staff_page(request, status_code=422, values=values, errors=exc.errors)
        return Redirect("/admin/staff?notice=saved")

    def _simple(
        self,
        request: HttpRequest,
        template: str,
        model: Any,
        *,
        status_code: int = 200,
        values: dict[str, Any] | None = None,
        errors: dict[str, list[str]] | None = None,
        notice: FromQuery[str] = "",
    ) -> Template:
        with portal(request).database.reading() as session:
            rows = list(session.exec(select(model).order_by(model.name)))
        return page(
            template,
            viewer(request),
            status_code=status_code,
            rows=rows,
            values=values or {},
            errors=errors or {},
            notice=notice,
        )

    def _create(
        self,
        request: HttpRequest,
        data: dict[str, Any],
        create: Callable[[Session, dict[str, Any]], Any],
        template: str,
        model: Any,
        target: str,
    ) -> Template | Redirect:
        values = flat_form(data)
        try:
            with portal(request).database.writing() as session:
                create(session, values)
        except ValidationFailed as exc:
            return self._simple(request, template, model, status_code=422, values=values, errors=exc.errors)
        return Redirect(f"{target}?notice=saved")
