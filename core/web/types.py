"""Type aliases for the web layer."""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Request

HttpRequest: TypeAlias = Request[Any, Any, Any]

UPLOADS = "uploads"
"""Route option of the forms that carry files: the app raises their body limit (``common.allow_uploads``)."""

PROBE = "probe"
"""Route option of the health probes: no viewer is resolved for them (no session, no token, no database)."""
