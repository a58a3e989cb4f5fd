"""The migrations create exactly the schema the models describe (tests run on the migrated schema)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import core.models  # noqa: F401
from core.db import Database


def test_migrated_schema_matches_the_models(database: Database) -> None:
    with database.read_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []
