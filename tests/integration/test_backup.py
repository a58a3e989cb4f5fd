"""``bbportal backup`` and ``bbportal restore``: a portal with requests, chat and files, restored into an empty
database and folder, has them all again; a restore never writes over data. On SQLite, and on PostgreSQL when
the test database is PostgreSQL (``pg_dump``/``pg_restore``)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.cli import main
from core.conversation import chat
from core.platform.settings import Settings, get_settings
from core.portal import Portal, build_portal
from core.requests.attachments import Upload, stage_all
from core.workflow import actions as workflow
from tests import files
from tests.support import World

PNG = files.png()
PDF = files.pdf("Kvitto")


@pytest.fixture
def target(portal: Portal, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An empty database of the same kind as the portal's, and an empty storage folder that does not exist yet."""
    if portal.database.is_sqlite:
        yield f"sqlite:///{tmp_path / 'restored' / 'bbportal.db'}", tmp_path / "restored" / "files"
        return
    server = create_engine(make_url(portal.database.url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"bbrestore_{uuid.uuid4().hex[:10]}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(portal.database.url).set(database=name).render_as_string(False), tmp_path / "restored-files"
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def run(monkeypatch: pytest.MonkeyPatch, database_url: str, storage_dir: Path, *arguments: str) -> Any:
    """The command as an operator runs it: its settings from the environment."""
    monkeypatch.setenv("BBPORTAL_DATABASE_URL", database_url)
    monkeypatch.setenv("BBPORTAL_STORAGE_DIR", str(storage_dir))
    monkeypatch.delenv("BBPORTAL_PRODUCTION", raising=False)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, list(arguments))
    finally:
        get_settings.cache_clear()


def staged(portal: Portal, *named: tuple[str, bytes]) -> list[Any]:
    uploads = [Upload(name, io.BytesIO(content)) for name, content in named]
    return stage_all(portal.storage, uploads, field="files", max_bytes=portal.settings.attachment_max_bytes)


def contents(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                "requests": [
                    tuple(r) for r in connection.execute(text("SELECT id, status, data FROM request ORDER BY id"))
                ],
                "chat": [
                    tuple(r)
                    for r in connection.execute(text("SELECT id, request_id, body FROM chat_message ORDER BY id"))
                ],
                "files": [
                    tuple(r)
                    for r in connection.execute(
                        text("SELECT id, message_id, filename, sha256, storage_key FROM attachment ORDER BY id")
                    )
                ],
                "users": [tuple(r) for r in connection.execute(text('SELECT id, email FROM "user" ORDER BY id'))],
            }
    finally:
        engine.dispose()


def test_backup_then_restore_into_an_empty_database_and_folder(
    portal: Portal, world: World, target: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    second = workflow.file(portal, world.admin, "fault_report", world.fault(description="Porten kärvar."), None)
    chat.post(portal, world.member, first.id or 0, "Bilder på låset", files=staged(portal, ("lås.png", PNG)))
    chat.post(portal, world.staff, second.id or 0, "Här är kvittot.", files=staged(portal, ("kvitto.pdf", PDF)))
    before = contents(portal.database.url)
    assert len(before["files"]) == 2 and len(before["chat"]) >= 2
    source_files = portal.settings.resolved_storage_dir
    archive = tmp_path / "backups" / "portal.tar"

    made = run(monkeypatch, portal.database.url, source_files, "backup", str(archive))
    assert made.exit_code == 0, made.output
    assert "and 2 files" in made.output
    with tarfile.open(archive) as tar:
        assert {"manifest.json"} < set(tar.getnames())

    database_url, storage_dir = target
    restored = run(monkeypatch, database_url, storage_dir, "restore", str(archive))
    assert restored.exit_code == 0, restored.output

    after = contents(database_url)
    assert after == before  # requests, chat, file records and users, ids included
    again = build_portal(
        Settings(database_url=database_url, storage_dir=storage_dir, data_dir=tmp_path / "restored-data")
    )
    try:
        for _id, _message, filename, sha256, key in after["files"]:
            with again.storage.open(key) as handle:
                assert hashlib.sha256(handle.read()).hexdigest() == sha256, filename
        with again.database.reading() as session:
            texts = [
                m.body for m in chat.visible_messages(session, again_user(session, world.member.id), first.id or 0)
            ]
        assert "Bilder på låset" in texts
    finally:
        again.database.dispose()

    # A second restore finds data in the way and stops before writing anything.
    refused = run(monkeypatch, database_url, storage_dir, "restore", str(archive))
    assert refused.exit_code != 0 and "not empty" in refused.output
    assert contents(database_url) == before


def again_user(session: Any, user_id: int | None) -> Any:
    from core.models import User

    return session.get(User, user_id)


def test_restore_refuses_a_database_with_tables_and_what_is_no_backup(
    portal: Portal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "portal.tar"
    assert run(monkeypatch, portal.database.url, tmp_path / "files", "backup", str(archive)).exit_code == 0
    into_itself = run(monkeypatch, portal.database.url, tmp_path / "empty-files", "restore", str(archive))
    assert into_itself.exit_code != 0 and "already has" in into_itself.output and "tables" in into_itself.output
    not_a_backup = tmp_path / "other.tar"
    with tarfile.open(not_a_backup, "w") as tar:
        tar.add(__file__, arcname="hello.py")
    refused = run(monkeypatch, portal.database.url, tmp_path / "empty-files", "restore", str(not_a_backup))
    assert refused.exit_code != 0 and "no manifest of a portal backup" in refused.output
