"""Creating and upgrading the database schema, by Alembic migration only.

The core's revisions and those of plugins that own tables (the access-control simulator, a password-reset
link table …) form one Alembic history: each plugin's folder is added to ``version_locations`` and its
first revision names the core revision it builds on (``depends_on``), so ``heads`` upgrades everything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pluggy
from alembic import command
from alembic.config import Config

from core.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def migration_locations(plugins: pluggy.PluginManager | None = None) -> list[Path]:
    """The core's revision folder and every folder a plugin contributes."""
    if plugins is None:
        from core.plugins import create_plugin_manager

        plugins = create_plugin_manager()
    folders = [MIGRATIONS / "versions"]
    for contributed in plugins.hook.bbportal_migration_locations():
        folders.extend(Path(folder) for folder in contributed or ())
    return folders


def alembic_config(url: str, plugins: pluggy.PluginManager | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(folder) for folder in migration_locations(plugins)))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database: Database, revision: str = "heads", plugins: pluggy.PluginManager | None = None) -> None:
    config = alembic_config(database.url, plugins)
    with database.write_engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()
