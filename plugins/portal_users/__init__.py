"""Hantering av portalanvändare: an organisation's administrators add, remove or list the portal's users.

Filed by administrators only; staff approve it and press *Utför*, and the fulfilment creates the account
(with an invitation mail), deactivates it (its sessions end, its requests and messages stay) or attaches
the list of users as a CSV file. The rules (never the last user, never the last administrator, never a
user of another organisation) are checked when the request is filed and again when it is carried out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from core.api import (
    N_,
    Choice,
    FormContext,
    FulfilmentContext,
    FulfilmentMode,
    FulfilmentResult,
    RequestType,
    Role,
    UserKind,
    UserView,
    find_user,
    find_user_by_email,
    hookimpl,
)
from core.api import gettext as _
from plugins.portal_users import fulfilment, rules
from plugins.portal_users.schema import AddUser, ListUsers, PortalUsersForm, RemoveUser

if TYPE_CHECKING:
    from core.api import RequestView

HERE = Path(__file__).parent
ALREADY_A_USER = N_("There is already a portal user with this e-mail address.")
NOT_YOURS = N_("Choose one of your organisation's users.")


def user_label(user: UserView) -> str:
    """How a user is named in the form and on the request: name and e-mail, and the role if administrator."""
    label = f"{user.name} ({user.email})"
    return " – ".join((label, _("Administrator"))) if user.role == Role.ADMINISTRATOR else label


class PortalUsers(RequestType):
    key = rules.KEY
    version = 1
    schema = PortalUsersForm
    fulfilment_mode = FulfilmentMode.ON_APPROVAL
    name = "Manage portal users"
    description = "Add or remove users of the portal, or get a list of the current users."
    icon = "👥"
    translation_domain = "portal_users"
    locale_dir = HERE / "locale"
    administrators_only = True
    validate_while_writing = True  # no second open request for the same user
    order = 60

    def choices(self, field_name: str, context: FormContext) -> list[Choice] | None:
        if field_name == "task.user_id":
            if context.organisation is None or context.organisation.id is None:
                return []
            # A stored request still names a user who has since been removed; the form offers active ones.
            users = rules.organisation_users(
                context.session, context.organisation.id, active_only=not context.for_display
            )
            return [Choice(str(user.id), user_label(user)) for user in users]
        return super().choices(field_name, context)

    def validate(self, data: BaseModel, context: FormContext) -> dict[str, str]:
        errors = super().validate(data, context)
        assert isinstance(data, PortalUsersForm)
        organisation = context.organisation
        if organisation is None or organisation.id is None:
            return {"__all__": NOT_YOURS}
        task = data.task
        session = context.session
        if isinstance(task, AddUser):
            existing = find_user_by_email(session, task.email)
            # One answer for every kind of clash, so the form never tells which organisation has the address.
            # The exception: a user this organisation removed earlier may be added again (the account reopens).
            if existing is not None and not rules.may_return(existing, organisation.id):
                errors["task.email"] = ALREADY_A_USER
            elif (pending := rules.open_request_adding(session, organisation.id, task.email)) is not None:
                errors["task.email"] = _(
                    "There is already an open request to add this address (%(number)s).", number=pending.number
                )
        elif isinstance(task, RemoveUser):
            target = find_user(session, task.user_id)
            if target is None or target.organisation_id != organisation.id or target.kind != UserKind.CUSTOMER:
                errors["task.user_id"] = NOT_YOURS  # the same for unknown ids and other organisations' users
            elif not target.active:
                errors["task.user_id"] = N_("This user has already been removed.")
            elif (problem := rules.removal_problem(session, organisation.id, target)) is not None:
                errors["task.user_id"] = problem
            elif (pending := rules.open_request_removing(session, organisation.id, target.id)) is not None:
                errors["task.user_id"] = _(
                    "There is already an open request to remove this user (%(number)s).", number=pending.number
                )
            else:
                task._label = f"{target.name} ({target.email})"
        return errors

    def example_strategies(self, context: FormContext) -> dict[str, Any]:
        """For the contract check: addresses nobody has yet, and users whose removal keeps the rules."""
        from hypothesis import strategies as st

        from core.testing import email_addresses

        if context.organisation is None or context.organisation.id is None:
            return {}
        organisation_id = context.organisation.id
        session = context.session
        removable = [
            user.id
            for user in rules.organisation_users(session, organisation_id)
            if rules.removal_problem(session, organisation_id, user) is None
            and rules.open_request_removing(session, organisation_id, user.id) is None
        ]
        return {
            "task.email": email_addresses().filter(lambda address: find_user_by_email(session, address) is None),
            "task.user_id": st.sampled_from(removable) if removable else st.nothing(),
        }

    def summary(self, data: BaseModel) -> str:
        """In the current language: filing stores it in Swedish and in English (``Request.title``)."""
        assert isinstance(data, PortalUsersForm)
        task = data.task
        if isinstance(task, AddUser):
            line = _("Add: %(name)s (%(email)s)", name=task.name, email=task.email)
            return ", ".join((line, _("Administrator").lower())) if task.role == Role.ADMINISTRATOR else line
        if isinstance(task, RemoveUser):
            return _("Remove: %(user)s", user=task._label or _("user %(id)s", id=task.user_id))
        assert isinstance(task, ListUsers)
        return _("List of users, removed ones included") if task.include_removed else _("List of users")

    def fulfil(self, request: RequestView, context: FulfilmentContext) -> FulfilmentResult:
        return fulfilment.carry_out(request, context)


@hookimpl
def bbportal_request_types() -> list[RequestType]:
    return [PortalUsers()]


@hookimpl
def bbportal_migration_locations() -> list[Path]:
    return [HERE / "migrations"]
