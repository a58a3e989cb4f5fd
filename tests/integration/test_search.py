"""Search as people type it, on the database the tests run on (SQLite FTS5 trigram, or PostgreSQL full text +
pg_trgm): Swedish compounds and inflections, "a/o" for "å/ä/ö", part of a tag or phone number, scoping to the
organisation, internal notes hidden from customers, and a request number going straight to the request."""

from __future__ import annotations

from typing import Any

import pytest

from core.conversation import chat
from core.portal import Portal
from core.requests import search
from core.requests.lifecycle import Action
from core.workflow import actions as workflow
from tests.support import World


@pytest.fixture(autouse=True, params=["newest first", "indexes first"])
def _route(request: pytest.FixtureRequest, portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL reads the newest requests first, or (a search it expects to be rare) the indexes only: every
    test here runs both ways. SQLite has one."""
    if request.param == "indexes first" and portal.database.is_sqlite:
        pytest.skip("SQLite searches one way; PostgreSQL chooses between two")
    monkeypatch.setattr(search, "RARE", 0 if request.param == "newest first" else 10**12)


def _suggest(portal: Portal, who: Any, text: str) -> int:
    filed = workflow.file(portal, who, "suggestion", {"topic": "other", "suggestion": text}, None)
    assert filed.id is not None
    return filed.id


def _found(portal: Portal, who: Any, query: str) -> list[int]:
    with portal.database.reading() as session:
        return [hit.request_id for hit in search.find(session, who, query).hits]


@pytest.fixture
def filed(portal: Portal, world: World) -> dict[str, int]:
    return {
        "taggarna": _suggest(portal, world.member, "Taggarna i entrén slutar fungera på kvällen."),
        "taggspärr": _suggest(portal, world.member, "Vi behöver en taggspärr för förrådet."),
        "dörrarna": _suggest(portal, world.member, "Dörrarna till garaget går inte att låsa."),
        "phone": _suggest(portal, world.member, "Ring mig på +46701234567 när teknikern kommer."),
        "tag_number": _suggest(portal, world.member, "Tagg nummer 0012398765 är borttappad."),
        "other_org": _suggest(portal, world.outsider, "Taggarna hos oss och dörrarna också, ring +46701234567."),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tagg", {"taggarna", "taggspärr", "tag_number"}),  # a word finds its compounds and inflections
        ("TAGG", {"taggarna", "taggspärr", "tag_number"}),
        ("taggspärr", {"taggspärr"}),
        ("taggsparr", {"taggspärr"}),  # "ä" typed as "a"
        ("dörr", {"dörrarna"}),
        ("dorr", {"dörrarna"}),  # "ö" typed as "o"
        ("dorrarna", {"dörrarna"}),
        ("forradet", {"taggspärr"}),  # "å" and "ö" as "a" and "o" in one word
        ("lasa garaget", {"dörrarna"}),  # every word must match
        ("2398", {"tag_number"}),  # part of a tag number
        ("1234567", {"phone"}),  # part of a phone number
        ("070-123 45 67", {"phone"}),  # as people write it, stored as +46…
        ("0701234567", {"phone"}),
        ("Maja", set(filed_names := ["taggarna", "taggspärr", "dörrarna", "phone", "tag_number"])),  # the requester
        ("Testet", set(filed_names)),  # the organisation
    ],
)
def test_swedish_as_typed(portal: Portal, world: World, filed: dict[str, int], query: str, expected: set[str]) -> None:
    wanted = {filed[name] for name in expected}
    assert set(_found(portal, world.member, query)) == wanted
    staff_found = set(_found(portal, world.staff, query))
    assert wanted <= staff_found


def test_another_organisations_requests_are_never_found(portal: Portal, world: World, filed: dict[str, int]) -> None:
    for query in ("tagg", "dörrarna", "1234567", "Annan", "Olle"):
        assert filed["other_org"] not in _found(portal, world.member, query)
        assert filed["other_org"] in _found(portal, world.outsider, query) or query in ("Annan", "Olle")
    assert filed["other_org"] in _found(portal, world.staff, "tagg")  # staff see every organisation's


def test_messages_are_found_and_internal_notes_only_by_staff(
    portal: Portal, world: World, filed: dict[str, int]
) -> None:
    request_id = filed["taggarna"]
    workflow.perform(portal, world.staff, request_id, Action.TAKE)
    chat.post(portal, world.staff, request_id, "Intern: låssmeden Lindqvist har nyckeln.", internal=True)
    chat.post(portal, world.staff, request_id, "Vi byter fönsterbeslaget i morgon.")
    assert _found(portal, world.member, "fonsterbeslaget") == [request_id]
    assert _found(portal, world.member, "lassmeden") == []
    assert _found(portal, world.member, "Lindqvist") == []
    with portal.database.reading() as session:
        hits = search.find(session, world.staff, "lindqvist").hits
    assert [hit.request_id for hit in hits] == [request_id]
    assert hits[0].internal and hits[0].snippet is not None and "<mark>Lindqvist</mark>" in hits[0].snippet


def test_the_snippet_is_escaped_and_marks_the_original_words(portal: Portal, world: World) -> None:
    _suggest(portal, world.member, "Skylten <b>Dörrarna</b> & portarna behöver bytas.")
    with portal.database.reading() as session:
        (hit,) = search.find(session, world.member, "dorrarna").hits
    assert hit.snippet is not None
    assert "&lt;b&gt;<mark>Dörrarna</mark>&lt;/b&gt; &amp; portarna" in hit.snippet


def test_the_best_match_comes_first(portal: Portal, world: World) -> None:
    once = _suggest(portal, world.member, "Porten knarrar, annars inget.")
    often = _suggest(portal, world.member, "Porten, porten och porten igen: porten mot gården.")
    found = _found(portal, world.member, "porten")
    assert set(found) == {once, often} and found[0] == often


def test_short_words_find_nothing_and_say_so(portal: Portal, world: World, customer_web: Any) -> None:
    _suggest(portal, world.member, "Ab cd ef")
    assert _found(portal, world.member, "ab") == []
    page = customer_web.get("/search", params={"q": "ab"})
    assert page.status_code == 200 and "minst 3" in page.text


def test_a_number_goes_straight_to_the_request(
    portal: Portal, world: World, filed: dict[str, int], customer_web: Any, staff_web: Any
) -> None:
    own = filed["taggarna"]
    for typed in (f"BB-{own}", f"bb{own}", f"{own}", f" bb-{own} "):
        answer = customer_web.get("/search", params={"q": typed}, follow_redirects=False)
        assert answer.status_code in (301, 302, 303) and answer.headers["location"] == f"/requests/{own}"
    answer = staff_web.get("/search", params={"q": f"BB-{own}"}, follow_redirects=False)
    assert answer.headers["location"] == f"/staff/requests/{own}"
    other = filed["other_org"]
    answer = customer_web.get("/search", params={"q": f"BB-{other}"}, follow_redirects=False)
    assert answer.status_code == 200 and f"/requests/{other}" not in answer.text  # no jump, no leak


def test_the_results_page_shows_ranked_matches_in_context(
    portal: Portal, world: World, filed: dict[str, int], customer_web: Any
) -> None:
    page = customer_web.get("/search", params={"q": "dörr"})
    assert page.status_code == 200
    assert f'href="/requests/{filed["dörrarna"]}"' in page.text
    assert "<mark>Dörr</mark>arna" in page.text
    assert f'href="/requests/{filed["other_org"]}"' not in page.text
    assert 'action="/search"' in customer_web.get("/requests").text  # the box in the header


def test_matches_come_a_page_at_a_time_with_their_count(
    portal: Portal, world: World, customer_web: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "PAGE", 2)
    filed = {_suggest(portal, world.member, f"Grinden nummer {n} gnisslar." + " grinden" * n) for n in range(5)}
    with portal.database.reading() as session:
        pages = [search.find(session, world.member, "grinden", page=n) for n in (1, 2, 3, 4)]
    assert [len(found.hits) for found in pages] == [2, 2, 1, 0]
    assert [found.total for found in pages[:3]] == [5, 5, 5] and pages[0].pages == 3 and not pages[0].more_than
    in_order = [hit.request_id for found in pages for hit in found.hits]
    assert set(in_order) == filed and len(in_order) == 5  # every match once, across the pages
    assert in_order == _ranked(portal, world, "grinden")  # in the order of one long page

    second = customer_web.get("/search", params={"q": "grinden", "page": "2"})
    assert second.status_code == 200
    assert "Sida 2 av 3" in second.text and "Visar 3–4." in second.text and "5 ärenden hittades" in second.text
    assert 'rel="prev" ' in second.text or 'rel="prev">' in second.text
    assert "page=3" in second.text and 'start="3"' in second.text
    past = customer_web.get("/search", params={"q": "grinden", "page": "7"}, follow_redirects=False)
    assert past.status_code in (302, 303) and past.headers["location"] == "/search?q=grinden"  # an old link
    for typo in ("0", "-1", "två", "99999999999", "²", " "):
        assert "Sida 1 av 3" in customer_web.get("/search", params={"q": "grinden", "page": typo}).text


def test_more_matches_than_are_ranked_say_so(
    portal: Portal, world: World, customer_web: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "CANDIDATES", 3)
    for n in range(4):
        _suggest(portal, world.member, f"Staketet vid infart {n} lutar.")
    with portal.database.reading() as session:
        found = search.find(session, world.member, "staketet")
    assert found.total == 3 and found.more_than
    page = customer_web.get("/search", params={"q": "staketet"})
    assert "Minst 3 ärenden hittades" in page.text and "lägg till ett ord" in page.text


def _ranked(portal: Portal, world: World, query: str) -> list[int]:
    """All matches on one page, as a reference order."""
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(search, "PAGE", 1000)
        return _found(portal, world.member, query)


def test_older_requests_are_found_past_the_newest(
    portal: Portal, world: World, filed: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL reads the newest requests first and the older ones through the indexes: both halves count."""
    monkeypatch.setattr(search, "RECENT", 2)
    assert set(_found(portal, world.member, "tagg")) == {filed["taggarna"], filed["taggspärr"], filed["tag_number"]}
    assert set(_found(portal, world.staff, "1234567")) == {filed["phone"], filed["other_org"]}
    monkeypatch.setattr(search, "CANDIDATES", 1)
    assert len(_found(portal, world.staff, "tagg")) == 1


def test_a_renamed_organisation_is_found_by_its_new_name_on_its_old_requests(
    portal: Portal, world: World, filed: dict[str, int]
) -> None:
    from core.accounts import administration
    from core.models import Organisation
    from core.platform import outbox

    ours = {filed[name] for name in ("taggarna", "taggspärr", "dörrarna", "phone", "tag_number")}
    chat.post(portal, world.member, filed["taggarna"], "Hälsningar från styrelsen i Sjöbrisen.")
    with portal.database.writing() as session:
        organisation = session.get(Organisation, world.org.id)
        assert organisation is not None
        values = {"name": "Brf Havsutsikten", "office_id": organisation.office_id}
        administration.save_organisation(session, values, clock=portal.clock, organisation=organisation)
    outbox.drain(portal)
    assert set(_found(portal, world.member, "havsutsikten")) == ours
    assert set(_found(portal, world.staff, "havsutsikten")) == ours
    assert _found(portal, world.staff, "Testet") == []
    # what the rows held besides the name is all still there: the words, the numbers, the chat
    assert set(_found(portal, world.member, "tagg")) == {filed[n] for n in ("taggarna", "taggspärr", "tag_number")}
    assert _found(portal, world.member, "0701234567") == [filed["phone"]]
    assert _found(portal, world.member, "sjobrisen") == [filed["taggarna"]]
    assert filed["other_org"] not in _found(portal, world.staff, "havsutsikten")


def test_saving_an_organisation_without_renaming_it_queues_no_rebuild(portal: Portal, world: World) -> None:
    from sqlmodel import select

    from core.accounts import administration
    from core.models import Organisation
    from core.platform.outbox import OutboxMessage

    with portal.database.writing() as session:
        organisation = session.get(Organisation, world.org.id)
        assert organisation is not None
        values = {"name": organisation.name, "office_id": organisation.office_id, "org_number": "769600-1234"}
        administration.save_organisation(session, values, clock=portal.clock, organisation=organisation)
    with portal.database.reading() as session:
        queued = session.exec(select(OutboxMessage).where(OutboxMessage.topic == search.REINDEX_TOPIC)).all()
    assert queued == []


def test_a_returning_user_with_a_new_name_is_found_by_it_on_their_old_requests(
    portal: Portal, world: World, filed: dict[str, int]
) -> None:
    from core.accounts import directory
    from core.platform import outbox

    with portal.database.writing() as session:
        directory.deactivate_user(session, world.member.id, clock=portal.clock)
    with portal.database.writing() as session:
        directory.reopen_customer_user(
            session, world.member.id, name="Maja Lindgren", role="member", clock=portal.clock
        )
    outbox.drain(portal)
    assert set(_found(portal, world.staff, "lindgren")) == {
        filed[name] for name in ("taggarna", "taggspärr", "dörrarna", "phone", "tag_number")
    }


def test_the_whole_index_can_be_rebuilt_and_finds_the_same(portal: Portal, world: World, filed: dict[str, int]) -> None:
    chat.post(portal, world.staff, filed["dörrarna"], "Intern: nyckeln hos vaktmästaren.", internal=True)
    queries = ("tagg", "dorr", "1234567", "Maja", "Testet", "vaktmastaren")
    before = {query: sorted(_found(portal, world.staff, query)) for query in queries}
    with portal.database.writing() as session:  # spoil every row, as a bug or a hand-edit might
        connection = session.connection()
        connection.exec_driver_sql("UPDATE request_search SET public_folded = '', internal_folded = ''")
        key = "rowid" if connection.dialect.name == "sqlite" else "request_id"
        connection.exec_driver_sql(f"DELETE FROM request_search WHERE {key} = {filed['phone']}")  # and lose one
    assert _found(portal, world.staff, "tagg") == []
    assert search.reindex(portal.database, portal.registry.schema_of) == len(filed)
    assert {query: sorted(_found(portal, world.staff, query)) for query in queries} == before


def test_the_reindex_command_rebuilds_every_row(
    portal: Portal, world: World, filed: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from core import cli

    with portal.database.writing() as session:
        session.connection().exec_driver_sql("UPDATE request_search SET public_folded = ''")
    monkeypatch.setattr(cli, "_portal", lambda: portal)
    result = CliRunner().invoke(cli.main, ["db", "reindex"])
    assert result.exit_code == 0, result.output
    assert f"Search index rebuilt for {len(filed)} requests." in result.output
    assert _found(portal, world.member, "taggsparr") == [filed["taggspärr"]]


def test_postgresql_reads_the_indexes_first_only_for_words_it_expects_to_be_rare(
    portal: Portal, world: World, _route: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner's estimate decides, over the word as typed and its stem: "dorrarna" is in no request here, but
    its stem "dorr" is in every one, so it is not rare."""
    if portal.database.is_sqlite:
        pytest.skip("the choice is PostgreSQL's")
    from sqlalchemy import text

    for n in range(40):
        _suggest(portal, world.member, f"Dörren till förråd {n} kärvar.")
    monkeypatch.setattr(search, "RARE", 10)
    with portal.database.writing() as session:
        session.connection().execute(text("ANALYZE request_search"))
    with portal.database.reading() as session:
        connection = session.connection()
        sides = ("public", "internal")
        assert search._expected_rare(connection, ["fonsterbeslaget"], sides)
        assert not search._expected_rare(connection, ["dorren"], sides)
        assert not search._expected_rare(connection, ["dorrarna"], sides)  # by its stem
        assert not search._expected_rare(connection, ["forrad"], sides)  # part of "förråd 7", no stem of its own
        assert search.find(session, world.member, "dorrarna").total == 40
