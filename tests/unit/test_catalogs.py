"""Plugin catalogs: compiled where they are, replaced whole, and still read from a folder that cannot be written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.platform import i18n

PO = """msgid ""
msgstr ""
"Language: sv\\n"
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "Parking permit for the test"
msgstr "Parkeringstillstånd för testet"
"""


@pytest.fixture
def locale_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "locale"
    (folder / "sv" / "LC_MESSAGES").mkdir(parents=True)
    (folder / "sv" / "LC_MESSAGES" / "catalog_test.po").write_text(PO, encoding="utf-8")
    i18n.register_catalog("catalog_test", folder)
    yield folder
    i18n.unregister_catalog("catalog_test")


def swedish(message: str) -> str:
    with i18n.use_language("sv"):
        return i18n.gettext(message)


def test_compiled_next_to_the_po_and_no_partial_file_left(locale_dir: Path) -> None:
    assert swedish("Parking permit for the test") == "Parkeringstillstånd för testet"
    folder = locale_dir / "sv" / "LC_MESSAGES"
    assert sorted(path.name for path in folder.iterdir()) == ["catalog_test.mo", "catalog_test.po"]


def test_a_folder_that_cannot_be_written_is_compiled_in_memory(
    locale_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = i18n.compile_catalog

    def read_only(folder: Path, domain: str, language: str) -> Path | None:
        if folder == locale_dir:
            raise PermissionError(13, "Permission denied", str(folder))
        return real(folder, domain, language)

    monkeypatch.setattr(i18n, "compile_catalog", read_only)
    assert swedish("Parking permit for the test") == "Parkeringstillstånd för testet"
    assert "catalog_test (sv) compiled in memory" in caplog.text
    assert not (locale_dir / "sv" / "LC_MESSAGES" / "catalog_test.mo").exists()
