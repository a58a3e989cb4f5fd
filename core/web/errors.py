"""Errors to responses, in one place: JSON for the API, a page (or the log-in page) for people."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.response import Redirect
from litestar.status_codes import (
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
)
from sqlalchemy.exc import DataError

from core.platform.errors import PortalError, ValidationFailed
from core.platform.i18n import N_
from core.platform.i18n import gettext as _
from core.platform.storage import StorageUnavailable
from core.web.rendering import csrf_input
from core.web.types import HttpRequest
from core.web.viewer import InvalidToken, resolve_viewer


def _is_api(request: HttpRequest) -> bool:
    return request.url.path.startswith("/api/")


def _viewer(request: HttpRequest) -> Any:
    viewer = request.state.get("viewer")
    if viewer is None:
        try:
            viewer = resolve_viewer(request)
        except HTTPException:
            viewer = None
    return viewer


def portal_error(request: HttpRequest, exc: PortalError) -> Response[Any]:
    message = _(exc.detail, **exc.params) if exc.params else _(exc.detail)
    if _is_api(request):
        body: dict[str, Any] = {"detail": message, "status_code": exc.status_code}
        if isinstance(exc, ValidationFailed):
            body["errors"] = exc.errors
            if exc.more_errors:
                body["more_errors"] = exc.more_errors
        return Response(body, status_code=exc.status_code, media_type=MediaType.JSON)
    return _page_response(request, exc.status_code, message)


def _page_response(request: HttpRequest, status_code: int, message: str) -> Response[Any]:
    viewer = _viewer(request)
    template = request.app.template_engine.get_template("error.html")  # type: ignore[union-attr]
    html = template.render(
        viewer=viewer,
        user=getattr(viewer, "user", None),
        csrf_field=csrf_input(viewer) if viewer else "",
        message=message,
        status_code=status_code,
    )
    return Response(html, status_code=status_code, media_type=MediaType.HTML)


def _too_large_message(request: HttpRequest) -> str:
    from core.requests.attachments import MAX_FILES, max_mb_label
    from core.web.common import UPLOADS

    handler = request.scope.get("route_handler")
    if handler is None or not handler.opt.get(UPLOADS):
        return _("What you sent is too large. Nothing was saved.")
    settings = request.app.state.portal.settings
    return _(
        "What you sent is too large: each file may be at most %(max_mb)s MB, and at most %(count)s files go "
        "with one message. Nothing was saved. Go back and choose fewer or smaller files.",
        max_mb=max_mb_label(settings.attachment_max_bytes),
        count=MAX_FILES,
    )


TOO_MANY = N_("Too many requests in a short time. Wait %(seconds)s seconds and try again; nothing was saved.")


def too_many_requests(request: HttpRequest, exc: HTTPException) -> Response[Any]:
    """Over a rate limit (``core.web.rate_limits``): 429 with ``Retry-After``, said in the user's language."""
    headers = dict(exc.headers or {})
    seconds = max(1, int(headers.get("RateLimit-Reset", "60") or 60))
    headers["Retry-After"] = str(seconds)
    message = _(TOO_MANY, seconds=seconds)
    if _is_api(request):
        body = {"detail": message, "status_code": HTTP_429_TOO_MANY_REQUESTS}
        return Response(body, status_code=HTTP_429_TOO_MANY_REQUESTS, media_type=MediaType.JSON, headers=headers)
    response = _page_response(request, HTTP_429_TOO_MANY_REQUESTS, message)
    response.headers.update(headers)
    return response


def http_error(request: HttpRequest, exc: HTTPException) -> Response[Any]:
    if exc.status_code == HTTP_429_TOO_MANY_REQUESTS:
        return too_many_requests(request, exc)
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        # Litestar stopped reading a body over the route's limit; say which limits apply instead of a bare 413.
        exc = HTTPException(detail=_too_large_message(request), status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        if not _is_api(request):
            return _page_response(request, exc.status_code, exc.detail)
    if _is_api(request) or request.url.path.startswith("/schema"):
        body: dict[str, Any] = {"detail": _(exc.detail), "status_code": exc.status_code}
        if getattr(exc, "extra", None):
            body["extra"] = exc.extra
        return Response(body, status_code=exc.status_code, media_type=MediaType.JSON, headers=exc.headers)
    if isinstance(exc, InvalidToken):
        response = _page_response(request, exc.status_code, _(exc.detail))
        response.headers.update(exc.headers or {})
        return response
    if isinstance(exc, NotAuthorizedException):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={target}" if request.method == "GET" else "/login")
    if isinstance(exc, NotFoundException):
        return _page_response(request, 404, _("There is no such page."))
    if isinstance(exc, PermissionDeniedException):
        return _page_response(request, 403, _(exc.detail))
    return _page_response(request, exc.status_code, _(exc.detail))


def server_error(request: HttpRequest, exc: Exception) -> Response[Any]:
    request.logger.exception("Unhandled error on %s", request.url.path)
    message = _("Something went wrong on our side. Nothing you entered was saved; please try again.")
    if _is_api(request):
        return Response({"detail": message, "status_code": 500}, status_code=HTTP_500_INTERNAL_SERVER_ERROR)
    return _page_response(request, 500, message)


def storage_unavailable(request: HttpRequest, exc: StorageUnavailable) -> Response[Any]:
    """The file storage could not take a file (full, unreachable): nothing was saved, and trying later may work."""
    request.logger.error("The file storage failed on %s: %s", request.url.path, exc)
    message = _("The file could not be stored just now. Nothing was saved; please try again in a few minutes.")
    headers = {"Retry-After": "60"}
    if _is_api(request):
        return Response({"detail": message, "status_code": 503}, status_code=503, headers=headers)
    response = _page_response(request, 503, message)
    response.headers.update(headers)
    return response


def number_out_of_range(request: HttpRequest, exc: OverflowError) -> Response[Any]:
    """An id beyond any the database can hold (SQLite refuses to even look it up): there is no such thing."""
    if _is_api(request):
        return Response({"detail": _("There is no such page."), "status_code": 404}, status_code=404)
    return _page_response(request, 404, _("There is no such page."))


def database_data_error(request: HttpRequest, exc: DataError) -> Response[Any]:
    """PostgreSQL's answer to an id beyond its integer range is "no such thing" too; anything else is ours."""
    if "out of range" in str(exc.orig):
        return number_out_of_range(request, OverflowError(str(exc.orig)))
    return server_error(request, exc)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    PortalError: portal_error,
    StorageUnavailable: storage_unavailable,
    OverflowError: number_out_of_range,
    DataError: database_data_error,
    HTTPException: http_error,
    HTTP_500_INTERNAL_SERVER_ERROR: server_error,
}
