"""Lösenordsåterställning: a new password for a service account of a hosted system (Administrera Själv …).

Staff take the request and press *Utför*; the hook issues a one-time link and mails it to the address the
*system* has for the account, never to the portal user who asked. Opening the link has the adapter set a
new generated password and shows it once. The password never passes through the chat, the logs or the
portal's database; of the link only a digest is stored (:mod:`plugins.password_reset.links`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from core.api import (
    LOCAL_ZONE,
    N_,
    AccessControlError,
    AccessControlUnavailable,
    Choice,
    FormContext,
    FulfilmentContext,
    FulfilmentMode,
    FulfilmentResult,
    MailKind,
    RequestType,
    ServiceAccount,
    gettext,
    hookimpl,
    lock_request,
    use_language,
)
from plugins.password_reset import links
from plugins.password_reset.schema import PasswordResetForm

if TYPE_CHECKING:
    from core.api import RequestView

STAFF_LANGUAGE = "sv"
UNAVAILABLE = N_("The system does not answer right now. Try again in a while.")
NO_ACCOUNT = N_("The chosen system has no account with this username in the chosen service.")


def find_account(accounts: list[ServiceAccount], service: str, username: str) -> ServiceAccount | None:
    """Usernames compare without regard to case, as the services do; the system's spelling is kept."""
    wanted = username.strip().casefold()
    return next((a for a in accounts if a.service == service and a.username.casefold() == wanted), None)


class PasswordReset(RequestType):
    key = "password_reset"
    version = 1
    schema = PasswordResetForm
    fulfilment_mode = FulfilmentMode.ON_APPROVAL
    name = "Password reset"
    description = (
        "A new password for one of your services with us, such as Administrera Själv. A one-time link goes to "
        "the e-mail address the system has for the account."
    )
    icon = "🔑"
    translation_domain = "password_reset"
    locale_dir = Path(__file__).parent / "locale"
    system_field = "system_id"
    allows_carry_out_on = False  # someone is locked out now: a new password on a later day helps nobody
    order = 70

    def choices(self, field_name: str, context: FormContext) -> list[Choice] | None:
        if field_name == "service":
            found: list[Choice] = []  # each system's services; the form offers the chosen system's
            for system in context.systems():
                adapter = context.access_control(system.id)
                if adapter is None:
                    continue
                try:
                    services = sorted({account.service for account in adapter.service_accounts()})
                except AccessControlError:
                    continue  # a system that does not answer offers nothing now; the others still do
                found.extend(Choice(service, service, group=system.name, parent=str(system.id)) for service in services)
            return found
        return super().choices(field_name, context)

    def validate(self, data: BaseModel, context: FormContext) -> dict[str, str]:
        errors = super().validate(data, context)
        assert isinstance(data, PasswordResetForm)
        if errors:
            return errors  # another organisation's system: nothing in it is looked up or revealed
        adapter = context.access_control(data.system_id)
        if adapter is None:
            return {"system_id": N_("Choose one of your organisation's systems.")}
        try:
            accounts = adapter.service_accounts()
        except AccessControlUnavailable:
            return {}  # no answer now: accepted, and the account is looked up when the link is issued
        except AccessControlError:
            return {"username": UNAVAILABLE}
        if not any(account.service == data.service for account in accounts):
            errors["service"] = N_("The chosen system does not have this service.")
        elif find_account(accounts, data.service, data.username) is None:
            errors["username"] = NO_ACCOUNT
        return errors

    def example_strategies(self, context: FormContext) -> dict[str, Any]:
        """Values ``validate`` accepts: a system with service accounts, one of its services and its usernames."""
        from hypothesis import strategies as st

        for system in context.systems():
            adapter = context.access_control(system.id)
            try:
                accounts = adapter.service_accounts() if adapter is not None else []
            except AccessControlError:
                continue
            if accounts:
                service = accounts[0].service
                usernames = [account.username for account in accounts if account.service == service]
                return {
                    "system_id": st.just(system.id),
                    "service": st.just(service),
                    # Usernames are matched without regard to case, as the services do.
                    "username": st.sampled_from(usernames).flatmap(lambda name: st.sampled_from([name, name.upper()])),
                }
        return {}

    def summary(self, data: BaseModel) -> str:
        """The type and the account, on one line, in the current language (stored in both)."""
        assert isinstance(data, PasswordResetForm)
        return gettext("Password reset: %(service)s, %(username)s", service=data.service, username=data.username)

    def fulfil(self, request: RequestView, context: FulfilmentContext) -> FulfilmentResult:
        """Issue the link and queue its mail; a second run finds the link and does nothing more."""
        data = PasswordResetForm.model_validate(request.data)
        with context.database.reading() as session:
            existing = links.link_of_request(session, request.id or 0)
        if existing is None:
            try:
                accounts = context.access_control(request).service_accounts()
            except AccessControlUnavailable as exc:  # nothing issued: the portal tries again until it answers
                with use_language(context.customer_language(request)):
                    told = gettext(
                        "The system does not answer right now; the link is sent as soon as it does, and you get a "
                        "message here."
                    )
                with use_language(STAFF_LANGUAGE):
                    note = gettext("The access-control system did not answer: %(error)s", error=str(exc))
                return FulfilmentResult.later(customer_message=told, internal_note=note)
            except AccessControlError as exc:
                return _failed(N_("The access-control system did not answer: %(error)s"), error=str(exc))
            account = find_account(accounts, data.service, data.username)
            if account is None:  # the check the form could not make if the system was down then
                with use_language(context.customer_language(request)):
                    told = gettext(NO_ACCOUNT)
                failed = _failed(
                    N_("The system no longer has the account %(username)s in %(service)s."),
                    username=data.username,
                    service=data.service,
                )
                return FulfilmentResult(ok=False, customer_message=told, internal_note=failed.internal_note)
            if not account.email:
                return _failed(
                    N_("The system has no e-mail address for the account %(username)s in %(service)s."),
                    username=account.username,
                    service=data.service,
                )
            with context.database.writing() as session:
                # Looked up again with the request's row locked (PostgreSQL; SQLite writes one at a time): a
                # redelivered job running at the same moment finds the link the other issued, not a second one.
                lock_request(session, request.id or 0)
                existing = links.link_of_request(session, request.id or 0) or links.issue(
                    session,
                    context.portal,
                    request_id=request.id or 0,
                    system_id=request.system_id or data.system_id,
                    service=account.service,
                    username=account.username,
                    email=account.email,
                )
        masked = links.mask_address(existing.email)
        with use_language(context.customer_language(request)):
            message = gettext(
                "A link to set a new password for the account %(username)s in %(service)s was sent to %(address)s, "
                "the address the system has for the account. It works once, for %(hours)s hours.",
                username=existing.username,
                service=existing.service,
                address=masked,
                hours=links.LINK_HOURS,
            )
        with use_language(context.staff_language):
            note = gettext(
                "Link sent to %(address)s; valid until %(expires)s.",
                address=masked,
                expires=existing.expires_at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M"),
            )
        return FulfilmentResult(ok=True, customer_message=message, internal_note=note, details={"link_id": existing.id})


def _failed(message: str, **params: str) -> FulfilmentResult:
    with use_language(STAFF_LANGUAGE):
        return FulfilmentResult(ok=False, internal_note=gettext(message, **params))


@hookimpl
def bbportal_request_types() -> list[RequestType]:
    return [PasswordReset()]


@hookimpl
def bbportal_migration_locations() -> list[Path]:
    return [Path(__file__).parent / "migrations"]


@hookimpl
def bbportal_mail_kinds() -> list[MailKind]:
    return [links.MAIL_KIND]


@hookimpl
def bbportal_routes() -> list[Any]:
    from plugins.password_reset.web import PasswordResetLinkController

    return [PasswordResetLinkController]
