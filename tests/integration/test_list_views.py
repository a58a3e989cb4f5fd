"""The lists' views, filters, sortable columns, counts, pages both ways, the remembered view and the CSV export.

The pages are walked forwards and then backwards by their cursors for every view and order, and must give exactly
the order a plain ORM query gives, each request once; the count must equal the number of rows walked.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from sqlmodel import col, select

from core.models import Request, User
from core.portal import Portal
from core.requests import lists
from core.requests.lists import ListQuery
from core.requests.statuses import OPEN, Status
from core.workflow import actions as workflow
from tests.integration.test_lists import _fill
from tests.support import World


def _walk_both_ways(session: Any, user: Any, query: ListQuery, limit: int = 7) -> tuple[list[int], list[int], int]:
    forwards: list[int] = []
    cursor: str | None = None
    last: lists.ListPage | None = None
    for _ in range(200):
        last = lists.page(session, user, query, cursor=cursor, limit=limit)
        forwards.extend(row.request.id for row in last.rows)
        if last.next_cursor is None:
            break
        cursor = last.next_cursor
    assert last is not None
    backwards: list[int] = [row.request.id for row in reversed(last.rows)]
    cursor = last.previous_cursor
    while cursor is not None:
        earlier = lists.page(session, user, query, cursor=cursor, limit=limit)
        backwards.extend(row.request.id for row in reversed(earlier.rows))
        cursor = earlier.previous_cursor
    return forwards, list(reversed(backwards)), last.total


def _reference(session: Any, user: Any, query: ListQuery) -> list[int]:
    statement = select(Request)
    if not user.is_staff:
        statement = statement.where(Request.organisation_id == user.organisation_id)
    found = list(session.exec(statement))
    if query.view == "queue":
        wanted = query.status or Status.PENDING
        found = [r for r in found if r.status == wanted and r.queued_at is not None]
    elif query.view == "mine" and user.is_staff:
        found = [r for r in found if r.assignee_id == user.id and r.status in {s.value for s in OPEN}]
    elif query.view == "mine":
        found = [r for r in found if r.requester_id == user.id]
    elif query.view == "unassigned":
        found = [r for r in found if r.assignee_id is None and r.status in lists.WORKING]
    elif query.view == "waiting":
        found = [r for r in found if r.status == Status.WAITING_FOR_CUSTOMER]
    if query.status is not None and query.view != "queue":
        found = [r for r in found if r.status == query.status]
    if query.type_key:
        found = [r for r in found if r.type_key == query.type_key]
    if query.in_queue_order:
        found.sort(key=lambda r: (-r.priority, r.queued_at, r.id))
    else:
        column, descending = query.sort_key
        found.sort(key=lambda r: (getattr(r, column), r.id), reverse=descending)
    return [r.id for r in found]


@pytest.mark.parametrize("sort", ["", "number", "-number", "type", "-type", "status", "-status", "updated", "-updated"])
def test_every_view_and_order_walks_the_same_both_ways(portal: Portal, world: World, sort: str) -> None:
    _fill(portal, world, seed=len(sort))
    with portal.database.writing() as session:  # a few waiting, and a spread of last changes
        for n, request in enumerate(session.exec(select(Request).order_by(col(Request.id)))):
            request.updated_at = request.updated_at - timedelta(minutes=n % 5)
            if n % 11 == 0:
                request.status = Status.WAITING_FOR_CUSTOMER
            session.add(request)
    with portal.database.reading() as session:
        for user, views in ((world.staff, lists.STAFF_VIEWS), (world.member, lists.CUSTOMER_VIEWS)):
            for view in views:
                for type_key, status in ((None, None), ("suggestion", None), (None, Status.IN_PROGRESS)):
                    query = ListQuery(view=view, sort=sort, type_key=type_key, status=status)
                    if view == "attention":
                        continue  # its own rule (flagged, open, unheld): tests/integration/test_attention.py
                    forwards, backwards, total = _walk_both_ways(session, user, query)
                    expected = _reference(session, user, query)
                    assert forwards == expected, (view, sort, type_key, status)
                    assert backwards == expected, (view, sort, type_key, status)
                    assert total == len(expected)


def test_the_count_is_capped(portal: Portal, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(portal, world, seed=5, count=30)
    monkeypatch.setattr(lists, "COUNT_CAP", 10)
    with portal.database.reading() as session:
        assert lists.count(session, world.staff, ListQuery(view="all")) == (10, True)
        assert lists.count(session, world.staff, ListQuery(view="all", type_key="nothing")) == (0, False)


def test_staff_views_filters_and_date_range_in_the_page(portal: Portal, world: World, staff_web: Any) -> None:
    mine = workflow.file(portal, world.member, "suggestion", {"topic": "other", "suggestion": "Min egen"}, None)
    waiting = workflow.file(portal, world.outsider, "suggestion", {"topic": "other", "suggestion": "Väntande"}, None)
    free = workflow.file(portal, world.member, "suggestion", {"topic": "other", "suggestion": "Ledig"}, None)
    from core.conversation import chat
    from core.requests.lifecycle import Action

    workflow.perform(portal, world.staff, mine.id or 0, Action.TAKE)
    workflow.perform(portal, world.colleague, waiting.id or 0, Action.TAKE)
    chat.post(portal, world.colleague, waiting.id or 0, "Vilken dörr?", ask_customer=True)

    def numbers(address: str) -> set[int]:
        return {int(n) for n in re.findall(r'href="/staff/requests/(\d+)"', staff_web.get(address).text)}

    assert numbers("/staff/queue?view=mine") == {mine.id}
    assert numbers("/staff/queue?view=unassigned") == {free.id}
    assert numbers("/staff/queue?view=waiting") == {waiting.id}
    assert numbers("/staff/queue?view=all&organisation=" + str(world.other_org.id)) == {waiting.id}
    everyone = f"/staff/queue?view=all&organisation={world.org.id}&requester={world.member.id}"
    assert numbers(everyone) == {mine.id, free.id}
    assert numbers("/staff/queue?view=all&from=2026-11-27&to=2026-11-27") == {mine.id, waiting.id, free.id}
    assert numbers("/staff/queue?view=all&from=2026-11-28") == set()
    assert numbers("/staff/queue?view=all&to=2026-11-26") == set()
    page = staff_web.get("/staff/queue?view=all&sort=-number").text
    assert 'aria-sort="descending"' in page and 'aria-sort="none"' in page
    assert "3 ärenden" in page
    assert 'aria-current="page">Alla<' in page


def test_a_staff_members_chosen_view_is_remembered(portal: Portal, world: World, make_web: Any) -> None:
    first, second = make_web(), make_web()
    first.login(world.staff.email)
    second.login(world.colleague.email)
    assert first.get("/staff/queue?view=mine&sort=-updated").status_code == 200
    back = first.get("/staff/queue", follow_redirects=False)
    assert back.status_code in (302, 303) and back.headers["location"] == "/staff/queue?view=mine&sort=-updated"
    assert second.get("/staff/queue", follow_redirects=False).status_code == 200  # per user: not the colleague's
    first.get("/staff/queue?view=queue")
    assert first.get("/staff/queue", follow_redirects=False).headers["location"] == "/staff/queue?view=queue"


def test_the_customers_views_and_the_waiting_highlight(portal: Portal, world: World, customer_web: Any) -> None:
    from core.conversation import chat
    from core.requests.lifecycle import Action

    own = workflow.file(portal, world.admin, "suggestion", {"topic": "other", "suggestion": "Min"}, None)
    theirs = workflow.file(portal, world.member, "suggestion", {"topic": "other", "suggestion": "Majas"}, None)
    workflow.perform(portal, world.staff, theirs.id or 0, Action.TAKE)
    chat.post(portal, world.staff, theirs.id or 0, "Vilken port?", ask_customer=True)

    def numbers(address: str) -> set[int]:
        return {int(n) for n in re.findall(r'href="/requests/(\d+)"', customer_web.get(address).text)}

    assert numbers("/requests") == {own.id, theirs.id}
    assert numbers("/requests?view=mine") == {own.id}
    assert numbers("/requests?view=waiting") == {theirs.id}
    page = customer_web.get("/requests").text
    row = re.search(r'<tr class="[^"]*waiting[^"]*">.*?</tr>', page, re.S)
    assert row is not None and f"/requests/{theirs.id}" in row.group() and "Väntar på er" in row.group()
    assert "Väntar på er" in page.split("<table")[0]  # the view's name
    assert numbers("/requests?organisation=" + str(world.other_org.id)) == {own.id, theirs.id}  # never widened


def test_the_export_follows_the_filters_in_the_readers_language_and_is_formula_safe(
    portal: Portal, world: World, customer_web: Any, staff_web: Any
) -> None:
    with portal.database.writing() as session:  # a title always starts with its type: a name can be a formula
        admin = session.get(User, world.admin.id)
        assert admin is not None
        admin.name = '=HYPERLINK("x")'
    workflow.file(portal, world.admin, "suggestion", {"topic": "other", "suggestion": "Mitt förslag"}, None)
    workflow.file(portal, world.member, "suggestion", {"topic": "other", "suggestion": "Majas förslag"}, None)
    workflow.file(portal, world.outsider, "suggestion", {"topic": "other", "suggestion": "Främmande"}, None)
    answer = customer_web.get("/requests.csv?view=mine")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    text = answer.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:4] == ["Nummer", "Typ", "Sammanfattning", "Status"]
    assert rows[0][4] == "Inskickat av" and len(rows) == 2  # only mine
    assert rows[1][2] == "Förslag: Mitt förslag" and rows[1][4].startswith("'=")  # the formula defused
    everything = customer_web.get("/requests.csv").content.decode("utf-8-sig")
    assert "Majas förslag" in everything and "Främmande" not in everything
    staff_rows = list(
        csv.reader(io.StringIO(staff_web.get("/staff/requests.csv").content.decode("utf-8-sig")), delimiter=";")
    )
    assert len(staff_rows) == 4 and "Organisation" in staff_rows[0]
    staff_web.post("/language", {"language": "en", "next": "/"})
    english = staff_web.get("/staff/queue.csv?view=all").content.decode("utf-8-sig")
    assert english.startswith("Number;Type;Summary;Status")
    link = unescape(
        re.search(r'href="(/staff/queue\.csv[^"]*)"', staff_web.get("/staff/queue?view=waiting").text).group(1)
    )  # type: ignore[union-attr]
    assert "view=waiting" in link
