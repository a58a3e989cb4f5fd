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
    return not (type_ == "table" and name is not None and name.startswith("alembic_version"))


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
