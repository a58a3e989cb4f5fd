"""The request lists' address: a view, filters and an order read from the query string, and the links a list
page makes from them (views, sortable column headers, pages, the CSV export), shared by the staff's and the
customer's lists; and the export itself, in the reader's language."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import anyio.to_thread
from litestar import Response
from litestar.response import Redirect, Stream, Template
from sqlmodel import Session

from core.models import User
from core.platform.clock import LOCAL_ZONE, as_utc
from core.platform.csv_export import csv_chunks
from core.platform.i18n import N_
from core.platform.i18n import gettext as _
from core.requests import list_choices, lists
from core.requests.lists import CUSTOMER_VIEWS, SORTS, STAFF_VIEWS, ListQuery
from core.requests.queries import RequestRow, needing_attention, organisation_choices, valid_id
from core.requests.statuses import Status
from core.web.common import portal, read, user, viewer
from core.web.rendering import page, status_label, type_label
from core.web.types import HttpRequest

if TYPE_CHECKING:
    from core.portal import Portal

VIEW_LABELS = {
    "queue": N_("Queue"),
    "mine": N_("Mine"),
    "unassigned": N_("Unassigned"),
    "waiting": N_("Waiting for the customer"),
    "attention": N_("Needs attention"),
    "all": N_("All"),
}
CUSTOMER_VIEW_LABELS = {"all": N_("All of ours"), "mine": N_("Filed by me"), "waiting": N_("Waiting for you")}
SORT_CHOICES = [
    ("-number", N_("Newest first")),
    ("number", N_("Oldest first")),
    ("-updated", N_("Last changed first")),
    ("updated", N_("Least recently changed first")),
    ("type", N_("By type")),
    ("status", N_("Status")),
]
"""The order as a choice in the filters too: under 640 px the column headers (and their sort links) are hidden."""
FILTER_KEYS = ("view", "status", "type", "organisation", "requester", "from", "to", "sort")
"""The address keys a list reads (besides ``cursor``): a staff member's remembered choice is these."""


def _int(value: str) -> int | None:
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if valid_id(number) else None


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def list_query(params: Mapping[str, str], user: User, *, default_view: str) -> ListQuery:
    """The list asked for; anything not understood is left out (an altered link shows more, never an error)."""
    views = STAFF_VIEWS if user.is_staff else CUSTOMER_VIEWS
    view = params.get("view", "") or default_view
    status = params.get("status", "")
    sort = params.get("sort", "")
    return ListQuery(
        view=view if view in views else default_view,
        status=Status(status) if status in Status._value2member_map_ else None,
        type_key=params.get("type", "") or None,
        organisation_id=_int(params.get("organisation", "")) if user.is_staff else None,
        requester_id=_int(params.get("requester", "")),
        filed_from=_date(params.get("from", "")),
        filed_to=_date(params.get("to", "")),
        sort=sort if sort.removeprefix("-") in SORTS else "",
    )


def address_of(query: ListQuery, **changes: Any) -> dict[str, str]:
    """The query string items of a list (only the keys that say something)."""
    query = replace(query, **changes)
    items = {
        "view": query.view,
        "status": query.status.value if query.status else "",
        "type": query.type_key or "",
        "organisation": str(query.organisation_id or ""),
        "requester": str(query.requester_id or ""),
        "from": query.filed_from.isoformat() if query.filed_from else "",
        "to": query.filed_to.isoformat() if query.filed_to else "",
        "sort": query.sort,
    }
    return {key: value for key, value in items.items() if value}


@dataclass(frozen=True)
class ListLinks:
    """What a list template needs to make its links: ``href(sort="-updated")``, ``sort_state("updated")``."""

    path: str
    query: ListQuery

    def href(self, cursor: str = "", **changes: Any) -> str:
        items = address_of(self.query, **changes)
        if cursor:
            items["cursor"] = cursor
        return f"{self.path}?{urlencode(items)}" if items else self.path

    def export(self) -> str:
        items = address_of(self.query)
        return f"{self.path}.csv?{urlencode(items)}" if items else f"{self.path}.csv"

    def sort_state(self, name: str) -> str:
        """The column's ``aria-sort``: ascending, descending or none."""
        if self.query.sort.removeprefix("-") != name:
            return "none"
        return "descending" if self.query.sort.startswith("-") else "ascending"

    def sort_href(self, name: str) -> str:
        """A header's link: its column ascending, or descending when it is already ascending."""
        return self.href(sort=f"-{name}" if self.query.sort == name else name)


def csv_download(
    rows: Iterator[RequestRow], user: User, type_label: Any, status_label: Any, name: str
) -> Response[Any]:
    """The list as a CSV file (formula-safe, through ``csv_export``), headings and values in the reader's language."""
    header = [_("Number"), _("Type"), _("Summary"), _("Status")]
    if user.is_staff:
        header += [_("Organisation"), _("Handled by")]
    header += [_("Filed by"), _("Filed"), _("Last change"), _("Scheduled for")]

    def lines() -> Iterator[list[Any]]:
        for row in rows:
            r = row.request
            line: list[Any] = [r.number, type_label(r.type_key), r.title, status_label(r.status)]
            if user.is_staff:
                line += [row.organisation_name, row.assignee_name]
            line += [row.requester_name, _local(r.created_at), _local(r.updated_at), r.carry_out_on]
            yield line

    return Stream(
        csv_chunks(header, list(lines())),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _local(moment: Any) -> Any:
    return as_utc(moment).astimezone(LOCAL_ZONE).replace(tzinfo=None) if moment is not None else None


async def list_page(
    request: HttpRequest,
    *,
    path: str,
    default_view: str,
    template: str,
    remember_as: str = "",
    notice: str = "",
    **context: Any,
) -> Template | Redirect:
    """A list page: the view and filters of the address (or, given none, the staff member's remembered ones when
    ``remember_as`` names the list), one page of it with its count, and the links to sort, page and export."""
    current = user(request)
    params = {key: request.query_params.get(key, "") for key in (*FILTER_KEYS, "cursor")}
    chosen = any(params[key] for key in FILTER_KEYS)
    the_portal = portal(request)
    query = list_query(params, current, default_view=default_view)
    remembering = bool(remember_as) and current.id is not None
    # the address of the list as chosen here, to keep; or, given no choice (nor a notice to show as it is), the
    # kept one to go to
    wanted = urlencode(address_of(query)) if remembering and chosen else None
    restore = remembering and not chosen and not params["cursor"] and not notice

    def load(session: Session) -> dict[str, Any]:
        loaded: dict[str, Any] = {}
        if restore or wanted is not None:  # in the same read as the page: no second session for every page
            loaded["remembered"] = list_choices.remembered(session, current.id or 0, remember_as)
            if restore and loaded["remembered"]:
                return loaded
        loaded["list_page"] = lists.page(
            session, current, query, cursor=params["cursor"] or None, limit=the_portal.settings.page_size
        )
        if current.is_staff:
            loaded["organisations"] = organisation_choices(session)
            loaded["flagged"] = needing_attention(session) if query.in_queue_order and not params["cursor"] else []
        if query.organisation_id is not None or not current.is_staff:
            organisation_id = query.organisation_id if current.is_staff else current.organisation_id
            loaded["requesters"] = lists.requester_choices(session, organisation_id or -1)
        return loaded

    loaded = await read(request, load)
    remembered = loaded.pop("remembered", None)
    if restore and remembered:
        return Redirect(f"{path}?{remembered}")
    if wanted is not None and wanted != remembered:  # only a changed choice takes a write transaction
        await anyio.to_thread.run_sync(_remember, the_portal, current.id or 0, remember_as, wanted)
    views = STAFF_VIEWS if current.is_staff else CUSTOMER_VIEWS
    labels = VIEW_LABELS if current.is_staff else CUSTOMER_VIEW_LABELS
    return page(
        template,
        viewer(request),
        query=query,
        links=ListLinks(path, query),
        views=[(name, labels[name]) for name in views],
        registry=the_portal.registry,
        statuses=list(Status),
        sort_choices=SORT_CHOICES,
        cursor=params["cursor"],
        notice=notice,
        **loaded,
        **context,
    )


def _remember(the_portal: Portal, user_id: int, list_key: str, query: str) -> None:
    with the_portal.database.writing() as session:
        list_choices.remember(session, user_id, list_key, query)


async def list_export(request: HttpRequest, *, default_view: str, name: str) -> Response[Any]:
    """The list of the address as a CSV file: the same view, filters and order, every page of it."""
    current = user(request)
    params = {key: request.query_params.get(key, "") for key in FILTER_KEYS}
    query = list_query(params, current, default_view=default_view)
    the_portal = portal(request)
    rows = await read(request, lambda session: list(lists.every_row(session, current, query)))
    labels = partial(type_label, the_portal.registry)
    return csv_download(iter(rows), current, labels, status_label, name)
