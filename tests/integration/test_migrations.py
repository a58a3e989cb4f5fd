"""The migrations create exactly the schema the models describe (tests run on the migrated schema).

Every plugin's tables live in their own Alembic history with its own version table, so leaving a plugin
out (uninstalled) never stops the rest of the database from upgrading.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import core.billing.models
import core.models
import core.platform.heartbeat
import core.platform.outbox  # noqa: F401
from core.migrate import upgrade
from core.platform.db import Database
from core.plugins import create_plugin_manager


def _not_a_version_table(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Version tables, and the search index (not a model: an FTS5 table on SQLite, see core/requests/search.py)."""
    skipped = ("alembic_version", "request_search", "ix_request_search")
    return not (type_ in ("table", "index") and name is not None and name.startswith(skipped))


def test_migrated_schema_matches_the_models(database: Database) -> None:
    with database.read_engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": False, "include_object": _not_a_version_table}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_each_plugin_keeps_its_own_history(database: Database) -> None:
    tables = set(inspect(database.read_engine).get_table_names())
    assert {
        "alembic_version",
        "alembic_version_access_control_simulator",
        "alembic_version_password_reset",
        "alembic_version_portal_users",
    } <= tables


def test_the_database_upgrades_with_a_plugin_that_owns_tables_left_out(database: Database) -> None:
    """An operator uninstalls password_reset: its tables stay, nothing else stops (the portal must start)."""
    upgrade(database, plugins=create_plugin_manager(blocked=["password_reset"]))
    assert "password_reset_link" in inspect(database.read_engine).get_table_names()
    upgrade(database)  # and installed again: nothing to do, no error


def test_an_installation_with_requests_upgrades_to_the_newest(tmp_path: Any) -> None:
    """The newest revision runs on a database that holds a request and its history, as every installation does
    (SQLite has foreign keys on: a migration that rebuilt a referenced table would fail here, not at a customer's).

    The rows are made from whatever columns the revision before the newest requires, so the test needs no change
    when a migration is added.
    """
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from core.migrate import CORE_VERSIONS, alembic_config
    from core.platform.db import create_database

    database = create_database(f"sqlite:///{tmp_path / 'portal.db'}")
    script = ScriptDirectory.from_config(alembic_config(database.url, CORE_VERSIONS, "alembic_version"))
    newest = script.get_current_head()
    previous = script.get_revision(newest).down_revision if newest else None
    assert isinstance(previous, str)
    upgrade(database, revision=previous)
    inspector = inspect(database.read_engine)
    references = {"office_id", "organisation_id", "requester_id", "request_id"}
    with database.write_engine.begin() as connection:
        for table in ("office", "organisation", "user", "request", "request_history"):
            values: dict[str, Any] = {"id": 1}
            for column in inspector.get_columns(table):
                name, kind = column["name"], str(column["type"]).upper()
                if name == "id" or column["nullable"]:
                    continue
                if name in references:
                    values[name] = 1
                elif "INT" in kind or "BOOL" in kind:
                    values[name] = 1 if name in ("version", "schema_version", "active") else 0
                elif "DATETIME" in kind or "TIMESTAMP" in kind:
                    values[name] = "2026-01-05 09:00:00+00:00"
                elif "JSON" in kind:
                    values[name] = "{}"
                else:
                    values[name] = "x"
            names = ", ".join(f'"{name}"' for name in values)
            marks = ", ".join(f":{name}" for name in values)
            connection.execute(text(f'INSERT INTO "{table}" ({names}) VALUES ({marks})'), values)
    upgrade(database)
    with database.read_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM request_history WHERE request_id = 1")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM request")).scalar() == 1
