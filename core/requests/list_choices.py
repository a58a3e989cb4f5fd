"""A staff member's chosen view of a list (view, filters, order), stored so the list opens that way next time."""

from __future__ import annotations

from sqlmodel import Session

from core.models import ListChoice


def remembered(session: Session, user_id: int, list_key: str) -> str | None:
    """The query string last chosen on the list, or None."""
    found = session.get(ListChoice, (user_id, list_key))
    return found.query if found is not None else None


def remember(session: Session, user_id: int, list_key: str, query: str) -> None:
    """Keep ``query`` as the user's choice on the list (one row per user and list, replaced)."""
    found = session.get(ListChoice, (user_id, list_key))
    if found is None:
        session.add(ListChoice(user_id=user_id, list_key=list_key, query=query[:1000]))
    elif found.query != query:
        found.query = query[:1000]
        session.add(found)
