"""Search from the header of every page: a request number goes straight to the request, words to the matches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect, Template
from sqlmodel import Session

from core.platform.errors import NotFound
from core.requests import search
from core.requests.queries import RequestRow, get_request, rows_by_id
from core.requests.search_text import MIN_TERM, number_of, terms_of
from core.web.common import read, user, viewer
from core.web.rendering import page
from core.web.types import HttpRequest
from core.web.viewer import require_user

MAX_QUERY = 200
"""Longer searches are cut: nobody types more, and every word costs an index condition."""


@dataclass(frozen=True, slots=True)
class Result:
    row: RequestRow
    hit: search.Hit


class SearchController(Controller):
    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)
    guards = [require_user]

    @get("/search")
    async def search(
        self,
        request: HttpRequest,
        q: FromQuery[str] = "",
        page_number: Annotated[str, QueryParameter(name="page")] = "1",
    ) -> Template | Redirect:
        query = q.strip()[:MAX_QUERY]
        wanted = page_of(page_number)
        current = user(request)
        prefix = "/staff" if current.is_staff else ""
        number = number_of(query)

        def load(session: Session) -> tuple[int | None, search.Found, list[Result]]:
            if number is not None and wanted == 1:
                try:
                    return get_request(session, current, number).id, search.Found([], 0, 1), []
                except NotFound:
                    pass  # another organisation's number, or none: look for it as text (part of a phone number)
            found = search.find(session, current, query, page=wanted)
            rows = rows_by_id(session, current, [hit.request_id for hit in found.hits])
            return None, found, [Result(rows[hit.request_id], hit) for hit in found.hits if hit.request_id in rows]

        jump, found, results = await read(request, load) if query else (None, search.Found([], 0, 1), [])
        if jump is not None:
            return Redirect(f"{prefix}/requests/{jump}")
        if found.page > 1 and not found.hits:  # past the last page (an old link, a hand-typed number)
            return Redirect(f"/search?{urlencode({'q': query})}")
        return page(
            "search.html",
            viewer(request),
            query=query,
            found=found,
            results=results,
            first=(found.page - 1) * search.PAGE + 1,
            page_href=lambda number: f"/search?{urlencode({'q': query, 'page': number})}",
            too_short=bool(query) and not terms_of(query),
            min_term=MIN_TERM,
            link_prefix=prefix,
        )


def page_of(value: str) -> int:
    """The page asked for: a whole number from 1; anything else (a typo in a link) is the first page, and a
    number past the last is brought back to it by :func:`search.find`."""
    value = value.strip()
    return int(value) if value.isdecimal() and 0 < len(value) <= 4 and int(value) > 0 else 1
