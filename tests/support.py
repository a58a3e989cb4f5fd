"""Test helpers: a small world of organisations and users, and a logged-in web client."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.testing.web import CSRF, WebClient
from core.testing.world import PASSWORD, WorldRows, create_world_rows

if TYPE_CHECKING:
    from core.portal import Portal

__all__ = ["CSRF", "PASSWORD", "VALID_FAULT", "WebClient", "World", "hidden_fields", "make_world"]
SCHEDULABLE = "order"
"""A built-in type that takes a "carry out on" date (a fault report does not): the scheduling tests file it."""
VALID_FAULT = {
    "location": "Huvudentrén, Storgatan 1",
    "description": "Låset i entrén öppnar inte alltid.",
    "urgency": "normal",
    "contact_name": "Anna Kund",
    "contact_phone": "070-123 45 67",
}


@dataclass
class World(WorldRows):
    """The kit's demo world as rows (the core's own tests drive core internals with them)."""

    def fault(self, **changes: Any) -> dict[str, Any]:
        return {**VALID_FAULT, "system_id": self.system.id, **changes}

    def later_change(self, text: str = "Öppna huvudentrén 07–18 på vardagar.") -> dict[str, Any]:
        """An order of "another change" (done by hand): a request that may be scheduled for a later day."""
        return {"system_id": self.system.id, "order": {"kind": "other", "description": text}}


def make_world(portal: Portal) -> World:
    rows = create_world_rows(portal)
    return World(**{name: getattr(rows, name) for name in rows.__dataclass_fields__})


def hidden_fields(page: str) -> dict[str, Any]:
    """The hidden inputs of a confirmation page, as its form sends them (a name may come more than once)."""
    found: dict[str, Any] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page):
        if name in found:
            found[name] = [*(found[name] if isinstance(found[name], list) else [found[name]]), html.unescape(value)]
        else:
            found[name] = html.unescape(value)
    return found
