"""Search: the request index and finding requests in it, by number or by words.

The index, ``request_search``, holds one row per request: what customers may find it by (``public_*``: title,
form values, organisation, requester, the chat) and what only staff may (``internal_*``: internal notes), each
as the original text (for the snippet) and folded (:mod:`core.requests.search_text`, what is matched).

Who writes it: the writers of what it indexes, in their own transaction — ``lifecycle.file`` adds the row when
a request is written (its title and form data never change afterwards) and ``chat.add_message`` appends each
message. Database triggers were the other choice; they were not taken because the folding (diacritics, phone
numbers) is Python, which a trigger cannot call on PostgreSQL and which SQLite triggers only see on connections
that registered the function. One indexed write per filing and per message; never a scan. A renamed organisation
or user (whose names the rows hold) queues a background job (:func:`names_changed`) that rebuilds their
requests' rows from the stored request and chat (:func:`rebuild`); ``bbportal db reindex`` rebuilds all.

SQLite (embedded): an FTS5 table with the trigram tokenizer — any three characters of a word match, so "tagg"
finds "taggarna" and "taggspärr", "dörr" "dörrarna", and part of a tag or phone number matches; ranked by bm25.
PostgreSQL: stored ``tsvector`` columns in the Swedish configuration (stems: "dörrarna" finds "dörren"; words
as prefixes) or'ed with ``pg_trgm`` substring matching, each with its GIN index; ranked by ``ts_rank``; a
common word read newest-first, a rare one through the indexes (:func:`_postgresql`). Both rank only the newest
:data:`CANDIDATES` matches and show them :data:`PAGE` at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from pydantic import BaseModel
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Session

from core.models import User
from core.platform.outbox import enqueue
from core.requests.search_text import coded_fields, fold, request_text, searchable, snippet, terms_of

if TYPE_CHECKING:
    from core.platform.db import Database

TABLE = "request_search"
PAGE = 20
"""Matches on one page of results (each is a row, a snippet and a piece of the page to render)."""
CANDIDATES = 100
"""Ranking reads every match's words, so only the newest this many matches are ranked: a word found in a
hundred thousand requests ("entrén") stays as quick as a rare one; the page asks for more words. So a search
has at most ``CANDIDATES / PAGE`` pages."""
RECENT = 20_000
"""PostgreSQL: how many of the newest requests are read newest-first before the indexes are asked (see
:func:`_postgresql`); reading them all costs about 15 ms at a million requests."""
RARE = 2_000
"""PostgreSQL: a search whose words the planner expects in fewer requests than this goes to the indexes
straight away, without reading the newest requests first (see :func:`_postgresql`)."""

SQLITE_SCHEMA = (
    "CREATE VIRTUAL TABLE request_search USING fts5("
    "public_folded, internal_folded, public_text UNINDEXED, internal_text UNINDEXED, tokenize='trigram')",
)
POSTGRESQL_SCHEMA = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE TABLE request_search ("
    " request_id INTEGER PRIMARY KEY REFERENCES request(id),"
    " public_text TEXT NOT NULL, internal_text TEXT NOT NULL,"
    " public_folded TEXT NOT NULL, internal_folded TEXT NOT NULL,"
    " public_words tsvector GENERATED ALWAYS AS (to_tsvector('swedish', public_folded)) STORED,"
    " internal_words tsvector GENERATED ALWAYS AS (to_tsvector('swedish', internal_folded)) STORED)",
    "CREATE INDEX ix_request_search_public_words ON request_search USING gin (public_words)",
    "CREATE INDEX ix_request_search_internal_words ON request_search USING gin (internal_words)",
    "CREATE INDEX ix_request_search_public_trgm ON request_search USING gin (public_folded gin_trgm_ops)",
    "CREATE INDEX ix_request_search_internal_trgm ON request_search USING gin (internal_folded gin_trgm_ops)",
)


def schema(dialect: str) -> tuple[str, ...]:
    """The statements that create the index on this database (the migration runs them)."""
    return SQLITE_SCHEMA if dialect == "sqlite" else POSTGRESQL_SCHEMA


def _key(dialect: str) -> str:
    return "rowid" if dialect == "sqlite" else "request_id"


def add_rows(connection: Connection, rows: list[tuple[int, str, str]]) -> None:
    """Index requests: (id, public text, internal text) each. Filing adds one; the migration's backfill many."""
    if not rows:
        return
    key = _key(connection.dialect.name)
    connection.execute(
        text(
            f"INSERT INTO request_search ({key}, public_text, internal_text, public_folded, internal_folded) "
            "VALUES (:id, :public_text, :internal_text, :public_folded, :internal_folded)"
        ),
        [
            {
                "id": request_id,
                "public_text": public,
                "internal_text": internal,
                "public_folded": searchable(public),
                "internal_folded": searchable(internal),
            }
            for request_id, public, internal in rows
        ],
    )


def index_filed(
    session: Session,
    request_id: int,
    summary: str,
    data: Any,
    organisation: str,
    requester: str,
    schema: type[BaseModel] | None = None,
) -> None:
    """The row of a request being filed (``lifecycle.file`` calls it, in the filing transaction); ``schema``, the
    type's form, says which values are codes rather than words."""
    skipped = coded_fields(schema) if schema is not None else frozenset()
    text = request_text(summary, data, organisation, requester, skipped=skipped)
    add_rows(session.connection(), [(request_id, text, "")])


def index_message(session: Session, request_id: int, body: str, *, internal: bool) -> None:
    """Append a chat message (``add_message`` calls it): to what customers find, or, a note, to what staff find."""
    side = "internal" if internal else "public"
    connection = session.connection()
    key = _key(connection.dialect.name)
    connection.execute(
        text(
            f"UPDATE request_search SET {side}_text = {side}_text || :text, "
            f"{side}_folded = {side}_folded || :folded WHERE {key} = :id"
        ),
        {"id": request_id, "text": "\n" + body, "folded": "\n" + searchable(body)},
    )


REINDEX_TOPIC = "search_reindex"
"""The background job that rebuilds the rows of a renamed organisation's or user's requests."""
REINDEX_BATCH = 500

SchemaOf = Callable[[str], "type[BaseModel] | None"]
"""A request type's form schema by its key (which of its values are codes); None for a type not installed."""


def names_changed(
    session: Session, *, now: datetime, organisation_id: int | None = None, requester_id: int | None = None
) -> None:
    """An organisation or a user was renamed (in ``session``'s transaction): their requests' rows hold the old
    name, so they are rebuilt — in the background, after the rename commits, since an organisation may have
    a hundred thousand requests and a rename must not wait for them."""
    payload = {"organisation_id": organisation_id} if organisation_id is not None else {"requester_id": requester_id}
    enqueue(session, REINDEX_TOPIC, payload, now=now)


def reindex(
    database: Database, schema_of: SchemaOf, *, organisation_id: int | None = None, requester_id: int | None = None
) -> int:
    """Rebuild the rows of an organisation's requests, or a requester's, or (neither given) every request's, from
    what they index now, :data:`REINDEX_BATCH` requests per transaction; returns how many.

    Safe to run again (a retry, two renames in a row): each row is computed from the stored request, names and
    chat, not patched.
    """
    if organisation_id is not None:
        where, owner = "organisation_id = :owner AND ", organisation_id
    elif requester_id is not None:
        where, owner = "requester_id = :owner AND ", requester_id
    else:
        where, owner = "", 0
    statement = text(f"SELECT id FROM request WHERE {where}id > :after ORDER BY id LIMIT :batch")
    after, done = 0, 0
    while True:
        with database.writing() as session:
            connection = session.connection()
            found = connection.execute(statement, {"owner": owner, "after": after, "batch": REINDEX_BATCH})
            ids = [row[0] for row in found]
            if not ids:
                return done
            rebuild(connection, ids, schema_of)
        after, done = ids[-1], done + len(ids)


def rebuild(connection: Connection, ids: list[int], schema_of: SchemaOf) -> None:
    """Write the rows of requests ``ids`` again from the requests, their names and their chat, in place (a row
    that is missing is added).

        On PostgreSQL the rows are locked first, so that a message added meanwhile (``index_message``) either is
        read here or waits and is appended to the row written here; SQLite has one writer at a time.
    """
    expanding: BindParameter[Any] = bindparam("ids", expanding=True)
    key = _key(connection.dialect.name)
    lock = " FOR UPDATE" if connection.dialect.name != "sqlite" else ""
    indexed = {
        row[0]
        for row in connection.execute(
            text(f"SELECT {key} FROM request_search WHERE {key} IN :ids{lock}").bindparams(expanding), {"ids": ids}
        )
    }
    requests = connection.execute(
        text(
            "SELECT r.id, r.type_key, r.summary, r.data, o.name, u.name FROM request r "
            'JOIN organisation o ON o.id = r.organisation_id JOIN "user" u ON u.id = r.requester_id '
            "WHERE r.id IN :ids"
        ).bindparams(expanding),
        {"ids": ids},
    ).all()
    chat: dict[tuple[int, bool], list[str]] = {}
    messages = connection.execute(
        text("SELECT request_id, body, internal FROM chat_message WHERE request_id IN :ids ORDER BY id").bindparams(
            expanding
        ),
        {"ids": ids},
    )
    for request_id, body, internal in messages:
        chat.setdefault((request_id, bool(internal)), []).append(body)
    rows = []
    missing: list[tuple[int, str, str]] = []
    for request_id, type_key, summary, data, organisation, requester in requests:
        schema = schema_of(type_key)
        values = json.loads(data) if isinstance(data, str) else data
        public = request_text(
            summary or "",
            values,
            organisation or "",
            requester or "",
            skipped=coded_fields(schema) if schema is not None else frozenset(),
        )
        public = "\n".join([public, *chat.get((request_id, False), [])])
        internal = "\n".join(chat.get((request_id, True), []))
        if request_id not in indexed:  # lost (a restore of part of the data, a hand-edit): written anew
            missing.append((request_id, public, internal))
            continue
        rows.append(
            {
                "id": request_id,
                "public_text": public,
                "internal_text": internal,
                "public_folded": searchable(public),
                "internal_folded": searchable(internal),
            }
        )
    if rows:
        connection.execute(
            text(
                "UPDATE request_search SET public_text = :public_text, internal_text = :internal_text, "
                f"public_folded = :public_folded, internal_folded = :internal_folded WHERE {key} = :id"
            ),
            rows,
        )
    add_rows(connection, missing)


@dataclass(frozen=True, slots=True)
class Hit:
    """One match: the request's id and the matching words in context (from the chat's notes only for staff)."""

    request_id: int
    snippet: Markup | None
    internal: bool = False


@dataclass(frozen=True, slots=True)
class Found:
    """One page of a search's matches, and how many there are in all (of the ranked :data:`CANDIDATES`)."""

    hits: list[Hit]
    total: int
    page: int

    @property
    def more_than(self) -> bool:
        """At least as many matched as are ranked: the page says "at least" and asks for another word."""
        return self.total >= CANDIDATES

    @property
    def pages(self) -> int:
        return -(-self.total // PAGE)


def find(session: Session, user: User, query: str, *, page: int = 1) -> Found:
    """Page ``page`` (from 1) of the best matches of ``query`` for ``user``, best first: staff over everything,
    internal notes included; a customer only over their organisation's requests and never over internal notes.
    No words of at least three characters: no matches (the page says why). A page past the last has no hits and
    a total of 0 (the count comes with the page's rows)."""
    terms = terms_of(query)
    page = min(max(page, 1), -(-CANDIDATES // PAGE))
    if not terms:
        return Found([], 0, page)
    connection = session.connection()
    scope = None if user.is_staff else (user.organisation_id if user.organisation_id is not None else -1)
    window = {"limit": PAGE, "offset": (page - 1) * PAGE, "candidates": CANDIDATES}
    if connection.dialect.name == "sqlite":
        found = _sqlite(connection, terms, scope, window)
    else:
        found = _postgresql(connection, terms, scope, window)
    hits = []
    for request_id, public_text, internal_text, _total in found:
        shown = snippet(public_text, terms)
        internal = False
        if shown is None and scope is None:
            shown = snippet(internal_text, terms)
            internal = shown is not None
        hits.append(Hit(request_id, shown, internal))
    return Found(hits, found[0][3] if found else 0, page)


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _sqlite(connection: Connection, terms: list[str], scope: int | None, window: dict[str, int]) -> list[Any]:
    words = " AND ".join(_phrase(term) for term in terms)
    match = f"{{public_folded}} : ({words})" if scope is not None else f"({words})"
    if scope is not None:  # a customer's: their organisation's requests only
        source = "request_search JOIN request r ON r.id = request_search.rowid"
        where = "request_search MATCH :match AND r.organisation_id = :scope"
    else:
        source, where = "request_search", "request_search MATCH :match"
    statement = text(
        "SELECT id, public_text, internal_text, count(*) OVER () FROM ("
        " SELECT request_search.rowid AS id, request_search.public_text, request_search.internal_text,"
        " bm25(request_search, 2.0, 1.0) AS score"
        f" FROM {source} WHERE {where} ORDER BY request_search.rowid DESC LIMIT :candidates"
        ") ORDER BY score, id DESC LIMIT :limit OFFSET :offset"
    )
    values = {"match": match, "scope": scope, **window}
    return list(connection.execute(statement, values))


def _tsquery(term: str) -> str:
    """A prefix query of one folded word (``dorr:*`` finds "dörrarna"), or "" when it holds no word characters."""
    word = "".join(char for char in term if char.isalnum())
    return f"{word}:*" if word else ""


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _postgresql(connection: Connection, terms: list[str], scope: int | None, window: dict[str, int]) -> list[Any]:
    """Candidates first, then ranked, in one statement. A word in a third of the requests is found fastest
    newest-first along the primary key (the first candidates come at once; through the GIN indexes it would cost
    200 ms at a million requests, every match read and sorted); a rare one fastest through the GIN indexes (a
    fraction of a millisecond; newest-first it would read every request). So a search the planner expects to be
    rare (:func:`_expected_rare`) reads the indexes only; any other reads the newest :data:`RECENT` requests
    newest-first (``recent``), and only when they hold too few matches the older ones through the indexes
    (``older``, whose one-time filter skips it otherwise) — which also bounds what a wrong guess of "common" costs.
    The newest :data:`CANDIDATES` are ranked. One statement: each round trip, and the candidates' ids carried
    through Python, cost more CPU than the reading itself."""
    params: dict[str, Any] = {"scope": scope, "recent": RECENT, **window}
    sides = ("public",) if scope is not None else ("public", "internal")
    conditions = []
    for n, term in enumerate(terms):
        params[f"like{n}"] = _like(term)
        params[f"ts{n}"] = _tsquery(term)
        either = []
        for side in sides:
            if params[f"ts{n}"]:
                either.append(f"s.{side}_words @@ to_tsquery('swedish', :ts{n})")
            either.append(f"s.{side}_folded LIKE :like{n}")
        conditions.append("(" + " OR ".join(either) + ")")
    where = " AND ".join(conditions)
    if scope is not None:  # a customer's: their organisation's requests only
        matching = f"SELECT s.request_id FROM request_search s JOIN request r ON r.id = s.request_id WHERE {where}"
        matching += " AND r.organisation_id = :scope"
    else:
        matching = f"SELECT s.request_id FROM request_search s WHERE {where}"
    rank = "ts_rank(s.public_words, to_tsquery('swedish', :all))"
    if scope is None:
        rank += " + 0.5 * ts_rank(s.internal_words, to_tsquery('swedish', :all))"
    params["all"] = " | ".join(q for q in map(_tsquery, terms) if q) or "x"
    if _expected_rare(connection, terms, sides):
        found = f"found AS ({matching} ORDER BY s.request_id + 0 DESC LIMIT :candidates) "
    else:
        found = (
            "floor AS (SELECT coalesce(max(request_id), 0) - :recent AS id FROM request_search), "
            f"recent AS ({matching} AND s.request_id > (SELECT id FROM floor) "
            "ORDER BY s.request_id DESC LIMIT :candidates), "
            f"older AS ({matching} AND s.request_id + 0 <= (SELECT id FROM floor) "
            "AND (SELECT count(*) FROM recent) < :candidates ORDER BY s.request_id + 0 DESC LIMIT :candidates), "
            "found AS (SELECT request_id FROM recent UNION ALL SELECT request_id FROM older LIMIT :candidates) "
        )
    statement = text(
        f"WITH {found}"
        "SELECT s.request_id, s.public_text, s.internal_text, count(*) OVER () FROM request_search s "
        "JOIN found ON found.request_id = s.request_id "
        f"ORDER BY {rank} DESC, s.request_id DESC LIMIT :limit OFFSET :offset"
    )
    # This read's transaction only, and back to the defaults before its next statement. Always a plan for the words
    # at hand: should the statement ever be prepared (psycopg does so on a statement's fifth run in a connection's
    # transaction), PostgreSQL would soon plan it once for any words, a "generic" plan that cannot know a word is
    # common, reads the indexes first and took 12 ms where the words' own plan takes 2 (at 1,000,000 requests).
    connection.execute(text("SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_custom_plan"))
    try:
        return list(connection.execute(statement, params))
    finally:
        connection.execute(text("SET LOCAL enable_seqscan TO DEFAULT; SET LOCAL plan_cache_mode TO DEFAULT"))


def _expected_rare(connection: Connection, terms: list[str], sides: tuple[str, ...]) -> bool:
    """Whether the planner expects fewer than :data:`RARE` requests to hold every word, as typed or as its stem.

    Its statistics of the folded text (a histogram of a hundred sampled rows) see a word that a few per cent of
    the requests hold; for a word they did not see it expects a handful. So a word in one per cent of a million
    requests may be taken for rare and read through the indexes: ten thousand matches, about 10 ms, where a word
    absent from the newest requests costs 15 ms without the guess. (A histogram of a thousand rows sees words ten
    times rarer but made every search's planning 2–3 ms dearer.) A word is found by its stem too ("dorrarna" by
    "dorr", as common as "dörren"), so the estimate is of the folded text holding the word or its stem; the stem
    is ``ts_lexize``'s, an immutable function the planner works out itself. One round trip, no rows read.
    """
    params: dict[str, str] = {}
    conditions = []
    for n, term in enumerate(terms):
        params[f"like{n}"] = _like(term)
        either = [f"s.{side}_folded LIKE :like{n}" for side in sides]
        word = "".join(char for char in term if char.isalnum())  # as _tsquery: no LIKE wildcards left
        if word:
            params[f"word{n}"] = word
            stem = f"'%' || coalesce((ts_lexize('swedish_stem', :word{n}))[1], :word{n}) || '%'"
            either += [f"s.{side}_folded LIKE {stem}" for side in sides]
        conditions.append("(" + " OR ".join(either) + ")")
    plan = connection.execute(
        text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM request_search s WHERE {' AND '.join(conditions)}"), params
    ).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return float(plan[0]["Plan"]["Plan Rows"]) < RARE


__all__ = [
    "PAGE",
    "REINDEX_TOPIC",
    "Found",
    "Hit",
    "add_rows",
    "find",
    "fold",
    "index_filed",
    "index_message",
    "names_changed",
    "rebuild",
    "reindex",
    "schema",
]
