"""A recording observer: what a plugin watching the pipeline sees (filed, status changed, message posted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.api import hookimpl


@dataclass
class Recorder:
    """Implements the per-request hooks; ``BatchRecorder`` the batched status hook."""

    seen: list[tuple[Any, ...]] = field(default_factory=list)

    @hookimpl
    def bbportal_request_filed(self, request: Any, context: Any) -> None:
        self.seen.append(("filed", request.id, str(request.status)))

    @hookimpl
    def bbportal_status_changed(self, request: Any, from_status: Any, to_status: Any, action: str) -> None:
        self.seen.append(("status", request.id, f"{from_status}>{to_status}", action))

    @hookimpl
    def bbportal_message_posted(self, request: Any, message: Any) -> None:
        self.seen.append(("message", request.id, message.via, message.internal))

    def of(self, kind: str, request_id: int | None = None) -> list[tuple[Any, ...]]:
        return [event for event in self.seen if event[0] == kind and request_id in (None, event[1])]


@dataclass
class BatchRecorder:
    calls: list[list[tuple[int, str, str, str]]] = field(default_factory=list)

    @hookimpl
    def bbportal_statuses_changed(self, changes: list[Any]) -> None:
        self.calls.append([(c.request_id, str(c.from_status), str(c.to_status), c.action) for c in changes])
