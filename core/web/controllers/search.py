"""Search from the header of every page: a request number goes straight to the request, words to the matches."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, get
from litestar.params import FromQuery
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
    async def search(self, request: HttpRequest, q: FromQuery[str] = "") -> Template | Redirect:
        query = q.strip()[:MAX_QUERY]
        current = user(request)
        prefix = "/staff" if current.is_staff else ""
        number = number_of(query)

        def load(session: Session) -> tuple[int | None, list[Result]]:
            if number is not None:
                try:
                    return get_request(session, current, number).id, []
                except NotFound:
                    pass  # another organisation's number, or none: look for it as text (part of a phone number)
            hits = search.find(session, current, query)
            rows = rows_by_id(session, current, [hit.request_id for hit in hits])
            return None, [Result(rows[hit.request_id], hit) for hit in hits if hit.request_id in rows]

        jump, results = await read(request, load) if query else (None, [])
        if jump is not None:
            return Redirect(f"{prefix}/requests/{jump}")
        return page(
            "search.html",
            viewer(request),
            query=query,
            results=results,
            too_short=bool(query) and not terms_of(query),
            min_term=MIN_TERM,
            limit=search.LIMIT,
            link_prefix=prefix,
        )
