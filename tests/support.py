"""Test helpers: a small world of organisations and users, and a logged-in web client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.testing.web import CSRF, WebClient
from core.testing.world import PASSWORD, WorldRows, create_world_rows

if TYPE_CHECKING:
    from core.portal import Portal

__all__ = ["CSRF", "PASSWORD", "VALID_FAULT", "WebClient", "World", "make_world"]
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


def make_world(portal: Portal) -> World:
    rows = create_world_rows(portal)
    return World(**{name: getattr(rows, name) for name in rows.__dataclass_fields__})
