"""Input no database should see, refused once at the edge with a clear 400 before any handler runs.

Every request passes here (the app's ``before_request``, ahead of the CSRF check), so a page, a form, the
JSON API and a filter in a query string all get the same answer, and the answer is the same on SQLite and
PostgreSQL:

- a NUL character in any text (the path, the query string, a form field, a JSON string or key): PostgreSQL
  cannot store it in a text column (a server error there), SQLite would keep it;
- text that is not UTF-8 (a JSON body, a multipart or url-encoded form field);
- a JSON body nested deeper than :data:`MAX_JSON_DEPTH`, or with more than :data:`MAX_JSON_VALUES` keys and
  values in all, and a form with more than :data:`MAX_FORM_FIELDS` fields: no form of the portal comes near
  these, while a body of half a million unknown keys cost seconds of CPU and megabytes of error list.

Files in a multipart form are not text: their names are sanitised where they are stored.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar.datastructures import UploadFile
from litestar.exceptions import SerializationException

from core.platform.errors import PortalError
from core.platform.i18n import N_
from core.web.types import HttpRequest

MAX_JSON_DEPTH = 32
MAX_JSON_VALUES = 10_000
MAX_FORM_FIELDS = 1_000
"""The same limit Litestar sets on the parts of a multipart form (``multipart_form_part_limit``)."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTAINS_NUL = N_(
    "What you sent contains a NUL character (\\0), which cannot be stored. Remove it and send again; nothing was saved."
)
NOT_UTF8 = N_("What you sent is not valid UTF-8 text. Nothing was saved.")
NOT_JSON = N_("The body is not valid JSON. Nothing was saved.")
TOO_DEEP = N_("The JSON body is nested more than %(depth)s levels deep. Nothing was saved.")
TOO_MANY_VALUES = N_("The body holds more than %(count)s keys and values. Nothing was saved.")
TOO_MANY_FIELDS = N_("The form has more than %(count)s fields. Nothing was saved.")


class BadInput(PortalError):
    """Input refused before it reached any handler (see the module's docstring)."""

    status_code = 400


async def check_input(request: HttpRequest) -> None:
    """Refuse NUL characters, text that is not UTF-8 and oversized bodies, whatever route they were sent to."""
    if "\x00" in request.scope["path"]:
        raise BadInput(CONTAINS_NUL)
    for key, value in request.query_params.multi_items():
        if "\x00" in key or "\x00" in str(value):
            raise BadInput(CONTAINS_NUL)
    if request.method not in BODY_METHODS:
        return
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        await _check_json(request)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        await _check_form(request, content_type)


async def _check_json(request: HttpRequest) -> None:
    body = await request.body()
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(NOT_UTF8) from None
    try:
        data = await request.json()  # kept by the request: the handler reads this parse, not another
    except RecursionError:
        raise BadInput(TOO_DEEP, depth=MAX_JSON_DEPTH) from None
    except (SerializationException, UnicodeDecodeError, ValueError):
        raise BadInput(NOT_JSON) from None
    check_json_value(data)


def check_json_value(data: Any) -> None:
    """Walk the parsed body without recursion: depth, number of keys and values, NUL in any string."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    count = 0
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise BadInput(CONTAINS_NUL)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise BadInput(TOO_DEEP, depth=MAX_JSON_DEPTH)
        count += len(value)
        if count > MAX_JSON_VALUES:
            raise BadInput(TOO_MANY_VALUES, count=MAX_JSON_VALUES)
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        pending.extend((item, depth + 1) for item in items)


async def _check_form(request: HttpRequest, content_type: str) -> None:
    if content_type == "application/x-www-form-urlencoded":
        # Litestar's own parse puts U+FFFD in place of bytes that are not UTF-8; this one refuses them.
        try:
            parse_qsl(
                (await request.body()).decode("latin-1"),
                keep_blank_values=True,
                errors="strict",
                max_num_fields=MAX_FORM_FIELDS,
            )
        except UnicodeDecodeError:
            raise BadInput(NOT_UTF8) from None
        except ValueError:
            raise BadInput(TOO_MANY_FIELDS, count=MAX_FORM_FIELDS) from None
    try:
        form = await request.form()  # kept by the request for the CSRF check and the handler
    except UnicodeDecodeError:
        raise BadInput(NOT_UTF8) from None
    for key, value in form.multi_items():
        if "\x00" in key or (not isinstance(value, UploadFile) and "\x00" in str(value)):
            raise BadInput(CONTAINS_NUL)
