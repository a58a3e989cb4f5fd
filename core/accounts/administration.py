"""Keeping the portal's own records: offices, stores, organisations, their systems and users, staff."""

from __future__ import annotations

from typing import Any, Literal

import pluggy
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError
from sqlalchemy import func
from sqlmodel import Session, select

from core.accounts import auth
from core.models import Office, Organisation, Role, Store, System, User, UserKind
from core.platform.clock import Clock, SystemClock
from core.platform.errors import NotFound, ValidationFailed
from core.platform.i18n import gettext as _
from core.requests import search
from core.requests.context import HookContext
from core.requests.forms import error_paths
from core.requests.queries import valid_id
from core.views import SystemView

MIN_PASSWORD_LENGTH = 10


class _Input(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")


class OfficeInput(_Input):
    name: str = Field(min_length=1, max_length=120)
    email: EmailStr
    phone: str = Field(min_length=1, max_length=32)
    address: str = Field(default="", max_length=300)


class StoreInput(_Input):
    name: str = Field(min_length=1, max_length=120)
    address: str = Field(min_length=1, max_length=300)
    opening_hours: str = Field(default="", max_length=200)


class OrganisationInput(_Input):
    name: str = Field(min_length=1, max_length=200)
    org_number: str = Field(default="", max_length=20)
    office_id: int


class SystemInput(_Input):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["access_control", "door_phone"] = "access_control"
    identifier: str = Field(default="", max_length=80)


class UserInput(_Input):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=200)
    """Empty: the user gets an invitation mail with a link to choose their password."""
    role: str = ""
    language: Literal["sv", "en"] = "sv"


def parse(model: type[_Input], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate({k: v for k, v in data.items() if v != "" or k == "name"})
    except ValidationError as exc:
        raise ValidationFailed(error_paths([], exc)) from exc


def create_office(session: Session, data: dict[str, Any]) -> Office:
    values = parse(OfficeInput, data)
    if session.exec(select(Office).where(func.lower(Office.name) == values.name.lower())).first():
        raise ValidationFailed({"name": [_("An office with this name already exists.")]})
    office = Office(**values.model_dump())
    session.add(office)
    session.flush()
    return office


def create_store(session: Session, data: dict[str, Any]) -> Store:
    values = parse(StoreInput, data)
    if session.exec(select(Store).where(func.lower(Store.name) == values.name.lower())).first():
        raise ValidationFailed({"name": [_("A store with this name already exists.")]})
    store = Store(**values.model_dump())
    session.add(store)
    session.flush()
    return store


def save_organisation(
    session: Session, data: dict[str, Any], *, clock: Clock, organisation: Organisation | None = None
) -> Organisation:
    if not data.get("office_id"):
        raise ValidationFailed({"office_id": [_("Choose the organisation's local office.")]})
    values = parse(OrganisationInput, data)
    if session.get(Office, values.office_id) is None:
        raise ValidationFailed({"office_id": [_("Choose the organisation's local office.")]})
    clash = session.exec(select(Organisation).where(func.lower(Organisation.name) == values.name.lower())).first()
    if clash is not None and (organisation is None or clash.id != organisation.id):
        raise ValidationFailed({"name": [_("An organisation with this name already exists.")]})
    renamed = organisation is not None and organisation.name != values.name
    if organisation is None:
        organisation = Organisation(**values.model_dump(), created_at=clock.now())
    else:
        for key, value in values.model_dump().items():
            setattr(organisation, key, value)
    session.add(organisation)
    session.flush()
    if renamed:
        search.names_changed(session, now=clock.now(), organisation_id=organisation.id)
    return organisation


def add_system(
    session: Session,
    organisation: Organisation,
    data: dict[str, Any],
    *,
    hooks: pluggy.HookRelay | None = None,
    clock: Clock | None = None,
) -> System:
    """Store a hosted system; observers (the simulator sets it up with doors and tags) run in the same transaction."""
    values = parse(SystemInput, data)
    system = System(organisation_id=organisation.id, **values.model_dump())  # type: ignore[arg-type]
    session.add(system)
    session.flush()
    if hooks is not None:
        context = HookContext(session=session, actor=None, clock=clock or SystemClock())
        hooks.bbportal_system_added(system=SystemView.of(system), context=context)
    return system


def _check_new_user(session: Session, values: UserInput) -> str:
    email = auth.normalise_email(values.email)
    if session.exec(select(User).where(User.email == email)).first():
        raise ValidationFailed({"email": [_("A user with this e-mail address already exists.")]})
    return email


def create_customer_user(session: Session, organisation: Organisation, data: dict[str, Any], *, clock: Clock) -> User:
    """The organisation's first user is always an administrator (they can then manage the others)."""
    values = parse(UserInput, data)
    email = _check_new_user(session, values)
    existing = session.exec(select(func.count()).select_from(User).where(User.organisation_id == organisation.id)).one()
    role = Role.ADMINISTRATOR if existing == 0 or values.role == Role.ADMINISTRATOR else Role.MEMBER
    user = User(
        email=email,
        name=values.name,
        password_hash=auth.hash_password(values.password) if values.password else None,
        kind=UserKind.CUSTOMER,
        role=role,
        organisation_id=organisation.id,
        language=values.language,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    return user


def create_staff_user(session: Session, data: dict[str, Any], *, clock: Clock) -> User:
    values = parse(UserInput, data)
    email = _check_new_user(session, values)
    role = Role.ADMIN if values.role == Role.ADMIN else Role.HANDLAGGARE
    user = User(
        email=email,
        name=values.name,
        password_hash=auth.hash_password(values.password) if values.password else None,
        kind=UserKind.STAFF,
        role=role,
        language=values.language,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    return user


def deactivate_user(session: Session, user_id: int, *, clock: Clock) -> User:
    """The user can no longer log in; their sessions and API tokens end now; their requests stay."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("There is no such user.")
    user.active = False
    session.add(user)
    auth.end_all_sessions(session, user_id)
    auth.revoke_all_tokens(session, user_id, clock=clock)
    session.flush()
    return user


class EmailInput(_Input):
    email: EmailStr


def change_email(session: Session, user_id: int, data: dict[str, Any]) -> User:
    """A user's new log-in and mail address; a bounce mark on the old one goes with it (see ``models``)."""
    user = session.get(User, user_id) if valid_id(user_id) else None
    if user is None:
        raise NotFound("There is no such user.")
    if not str(data.get("email", "")).strip():
        raise ValidationFailed({"email": [_("Enter an e-mail address.")]})
    values = parse(EmailInput, data)
    email = auth.normalise_email(values.email)
    clash = session.exec(select(User).where(User.email == email)).first()
    if clash is not None and clash.id != user.id:
        raise ValidationFailed({"email": [_("A user with this e-mail address already exists.")]})
    user.email = email
    session.add(user)
    session.flush()
    return user


def retry_mail_address(session: Session, user_id: int) -> User:
    """Staff clear a bounce mark by hand (the mailbox is fixed): mail goes to the address again."""
    user = session.get(User, user_id) if valid_id(user_id) else None
    if user is None:
        raise NotFound("There is no such user.")
    user.mail_undeliverable_at = None
    user.mail_undeliverable_reason = ""
    session.add(user)
    return user
