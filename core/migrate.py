"""Creating and upgrading the database schema, by Alembic migration only.

The core's revisions form one Alembic history (version table ``alembic_version``). Every plugin that owns
tables (the access-control simulator, a password-reset link table …) ships its own history in its own
folder, kept in its own version table (``alembic_version_<branch label>``) and upgraded after the core's.
A plugin that is no longer installed therefore leaves its tables and its version row alone, and the rest
of the database still upgrades: the portal starts, and its requests still display from what they stored.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pluggy
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from core.platform.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"
CORE_VERSIONS = MIGRATIONS / "versions"
CORE_VERSION_TABLE = "alembic_version"


def migration_locations(plugins: pluggy.PluginManager | None = None) -> list[Path]:
    """The core's revision folder first, then every folder an installed plugin contributes."""
    if plugins is None:
        from core.plugins import create_plugin_manager

        plugins = create_plugin_manager()
    folders = [CORE_VERSIONS]
    for contributed in plugins.hook.bbportal_migration_locations():
        folders.extend(Path(folder) for folder in contributed or ())
    return folders


def alembic_config(url: str, folder: Path = CORE_VERSIONS, version_table: str = CORE_VERSION_TABLE) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(folder))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["version_table"] = version_table
    return config


@lru_cache(maxsize=32)
def _script(folder: Path) -> ScriptDirectory:
    """One history's revisions, read once per process (they change only with the installed code)."""
    return ScriptDirectory(str(MIGRATIONS), version_locations=[str(folder)])


def version_table_of(folder: Path) -> str:
    """``alembic_version_<label>``: the branch label of the folder's first revision names its history."""
    script = _script(folder)
    labels = sorted(label for base in script.get_bases() for label in script.get_revision(base).branch_labels)
    name = labels[0] if labels else folder.parent.name
    return f"{CORE_VERSION_TABLE}_{name}"


def upgrade(database: Database, revision: str = "heads", plugins: pluggy.PluginManager | None = None) -> None:
    """The core to ``revision`` (default: the newest), then every installed plugin's tables to their newest."""
    folders = migration_locations(plugins)
    histories = [(CORE_VERSIONS, CORE_VERSION_TABLE, revision)]
    histories += [(folder, version_table_of(folder), "heads") for folder in folders[1:]]
    for folder, table, target in histories:
        config = alembic_config(database.url, folder, table)
        with database.write_engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, target)
            connection.commit()


def histories_not_at_head(database: Database, plugins: pluggy.PluginManager | None = None) -> list[str]:
    """The version tables whose database revision is not the installed code's newest (``/readyz``).

    Empty when ``bbportal db upgrade`` has run for this code: the core's history and every installed plugin's.
    """
    folders = migration_locations(plugins)
    behind = []
    with database.read_engine.connect() as connection:
        for folder in folders:
            table = CORE_VERSION_TABLE if folder == CORE_VERSIONS else version_table_of(folder)
            current = MigrationContext.configure(connection, opts={"version_table": table}).get_current_heads()
            if set(current) != set(_script(folder).get_heads()):
                behind.append(table)
    return behind


__all__ = ["alembic_config", "histories_not_at_head", "migration_locations", "upgrade", "version_table_of"]
