"""Rate limits on the API and on filing: Litestar's rate limiting, counted per user and per client address.

Three budgets, each a sliding minute: every API call per user (a token's calls count for its owner) and per
client address, and filings (the form's post and the API's) per user. A request over a budget gets 429 with
``Retry-After``: JSON on the API, a page in the user's language elsewhere (``core.web.errors``). The counts
live in Redis when the portal has one (every web process shares them), otherwise in each process's memory
(embedded mode: a budget then holds per web process). A budget of 0 switches it off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.memory import MemoryStore

from core.web.common import client_address

if TYPE_CHECKING:
    from litestar.middleware.base import DefineMiddleware
    from litestar.stores.base import Store

    from core.platform.settings import Settings
    from core.web.types import HttpRequest

STORE = "rate_limit"


def _is_api(request: HttpRequest) -> bool:
    return request.url.path.startswith("/api/")


def _is_filing(request: HttpRequest) -> bool:
    path = request.url.path
    return request.method == "POST" and (path.startswith("/requests/new/") or path.rstrip("/") == "/api/v1/requests")


def _user_id(request: HttpRequest) -> int | None:
    viewer = request.scope.get("state", {}).get("viewer")
    user = getattr(viewer, "user", None)
    return getattr(user, "id", None)


async def _api_user(request: HttpRequest) -> bool:
    return _is_api(request) and _user_id(request) is not None


async def _api(request: HttpRequest) -> bool:
    return _is_api(request)


async def _filing_user(request: HttpRequest) -> bool:
    return _is_filing(request) and _user_id(request) is not None


def middleware(settings: Settings) -> list[DefineMiddleware]:
    """The rate-limit middleware for the budgets switched on (they run after the viewer is resolved)."""
    budgets: list[tuple[int, Any, Any]] = [
        (settings.rate_limit_api_per_user, _api_user, lambda r: f"api-user:{_user_id(r)}"),
        (settings.rate_limit_api_per_address, _api, lambda r: f"api-address:{client_address(r)}"),
        (settings.rate_limit_filings_per_user, _filing_user, lambda r: f"filing-user:{_user_id(r)}"),
    ]
    return [
        RateLimitConfig(
            rate_limit=("minute", limit),
            check_throttle_handler=applies,
            identifier_for_request=identify,
            store=STORE,
        ).middleware
        for limit, applies, identify in budgets
        if limit > 0
    ]


def store(settings: Settings) -> Store:
    """Redis when the portal has it (shared by every web process), else this process's memory."""
    if settings.redis_url:
        from litestar.stores.redis import RedisStore

        return RedisStore.with_client(url=settings.redis_url, namespace=f"{settings.redis_namespace}:rate")
    return MemoryStore()
