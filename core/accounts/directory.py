"""The administration services a request type may use: read an organisation's users, add, reopen, remove one.

A type that manages accounts (portal users) works in its own write transaction, beside its own rows, and
needs the core's rules to hold there: an e-mail address belongs to one user, the first user of an
organisation is its administrator, a removed user's sessions and API tokens end at once, an invitation
goes out only when the transaction commits. These functions are those rules; they take the caller's
session and hand back read-only views, so a plugin never holds (or saves) a core row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from core.accounts import administration, auth, passwords
from core.models import Organisation, Role, System, User, UserKind
from core.platform.clock import Clock, SystemClock
from core.platform.errors import NotFound
from core.requests import search
from core.requests.queries import parse_id
from core.views import OrganisationView, SystemView, UserView

if TYPE_CHECKING:
    from core.portal import Portal


def organisation_users(session: Session, organisation_id: int, *, active_only: bool = True) -> list[UserView]:
    """The organisation's customer users by name (only those who can log in, unless ``active_only`` is False)."""
    query = select(User).where(User.organisation_id == organisation_id, User.kind == UserKind.CUSTOMER)
    if active_only:
        query = query.where(col(User.active).is_(True))
    return [UserView.of(row) for row in session.exec(query.order_by(col(User.name), col(User.id)))]


def find_user(session: Session, user_id: Any) -> UserView | None:
    """Any user by id (customer or staff, active or not); None for no such user or an impossible id."""
    wanted = parse_id(user_id)
    row = session.get(User, wanted) if wanted is not None else None
    return UserView.of(row) if row is not None else None


def find_user_by_email(session: Session, email: str) -> UserView | None:
    """The user whose log-in address this is (compared as the portal stores addresses: trimmed, lower case)."""
    row = session.exec(select(User).where(User.email == auth.normalise_email(email))).first()
    return UserView.of(row) if row is not None else None


def lock_organisation(session: Session, organisation_id: int) -> OrganisationView | None:
    """Serialise changes to one organisation's accounts until the transaction ends.

    Two removals at once must not both pass a "not the last administrator" rule: PostgreSQL takes a row
    lock on the organisation; SQLite's write transactions are already one at a time.
    """
    row = session.exec(select(Organisation).where(Organisation.id == organisation_id).with_for_update()).first()
    return OrganisationView.of(row) if row is not None else None


def add_customer_user(
    session: Session, organisation_id: int, *, name: str, email: str, role: str, language: str, clock: Clock
) -> UserView:
    """A new customer user without a password (send them :func:`invite_user`); the organisation's first user
    is always an administrator. Raises ``ValidationFailed`` on the ``email`` field when the address is taken."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("There is no such organisation.")
    data = {"name": name, "email": email, "role": role, "language": language}
    return UserView.of(administration.create_customer_user(session, organisation, data, clock=clock))


def reopen_customer_user(
    session: Session, user_id: int, *, name: str, role: str, clock: Clock | None = None
) -> UserView:
    """A removed customer user comes back: the same account (their old requests are theirs again), the name
    and role asked for now, no old password (they choose one through :func:`invite_user`). A changed name is
    searched by from now on, on their old requests too (rebuilt in the background)."""
    row = session.get(User, user_id)
    if row is None or row.kind != UserKind.CUSTOMER:
        raise NotFound("There is no such user.")
    renamed = row.name != name
    row.name = name
    row.role = Role.ADMINISTRATOR if role == Role.ADMINISTRATOR else Role.MEMBER
    row.password_hash = None
    row.active = True
    session.add(row)
    session.flush()
    if renamed:
        search.names_changed(session, now=(clock or SystemClock()).now(), requester_id=user_id)
    return UserView.of(row)


def deactivate_user(session: Session, user_id: int, *, clock: Clock) -> UserView:
    """The user can no longer log in; their sessions and API tokens end now; their requests and messages stay."""
    return UserView.of(administration.deactivate_user(session, user_id, clock=clock))


def invite_user(session: Session, portal: Portal, user_id: int) -> None:
    """Queue the invitation mail (a link to choose a password) in this transaction: it goes out after commit."""
    row = session.get(User, user_id)
    if row is None:
        raise NotFound("There is no such user.")
    passwords.invite(session, portal, row)


def find_organisation(session: Session, organisation_id: Any) -> OrganisationView | None:
    """An organisation by id, or None."""
    wanted = parse_id(organisation_id)
    row = session.get(Organisation, wanted) if wanted is not None else None
    return OrganisationView.of(row) if row is not None else None


def find_system(session: Session, system_id: Any) -> SystemView | None:
    """A hosted system by id (any organisation's, active or not), or None; check ``organisation_id`` yourself."""
    wanted = parse_id(system_id)
    row = session.get(System, wanted) if wanted is not None else None
    return SystemView.of(row) if row is not None else None
