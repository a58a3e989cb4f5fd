"""The API's error answers as the OpenAPI document describes them: one body shape, each status said once.

Every error of the API is JSON ``{"detail", "status_code"}`` (``core.web.errors``), with ``errors`` (field
path → messages) on 422 and ``extra`` on Litestar's own 400s. Handlers list the statuses they can answer with
``responses=problems(...)``; 401 (no or a revoked token) and 429 (over a rate limit) come with every route.
"""

from __future__ import annotations

from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from pydantic import BaseModel, Field


class Problem(BaseModel):
    detail: str = Field(description="What went wrong, in the caller's language")
    status_code: int
    errors: dict[str, list[str]] | None = Field(
        default=None, description="422 only: the form path of each field that was refused, with its messages"
    )
    extra: Any = Field(default=None, description="400 only: where the body or a parameter did not parse")


MEANINGS = {
    400: "The body or a parameter is not what this route takes (not JSON, a wrong type, a value out of range)",
    401: "No API token or session, or one that is unknown, revoked, or whose owner was deactivated",
    403: "The caller's role may not do this (a customer on a staff route)",
    404: "No such request, request type, action or file — or one the caller may not see",
    409: "The request is not in a state that allows this now (another action came first, a changed estimate)",
    422: "The data does not validate: ``errors`` names each field",
    429: "Over a rate limit: wait the seconds in Retry-After",
}


def problems(*codes: int) -> dict[int, ResponseSpec]:
    """The error answers of one route: ``codes`` plus 401 and 429, which every route can give."""
    return {
        code: ResponseSpec(data_container=Problem, description=MEANINGS[code], generate_examples=False)
        for code in sorted({401, 429, *codes})
    }
