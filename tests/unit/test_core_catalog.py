"""Every message id of the core (its Python, its pages, its mails) has Swedish in the core's catalog.

The msgids are extracted the way ``python3 dev.py messages`` extracts them (babel.cfg and the keywords in
dev.py); a msgid without Swedish would show in English in the Swedish interface.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from core.platform.i18n import CORE_DOMAIN, CORE_LOCALE_DIR

REPOSITORY = Path(__file__).resolve().parents[2]


def message_keywords() -> list[str]:
    """``MESSAGE_KEYWORDS`` of dev.py, read without running dev.py."""
    module = ast.parse((REPOSITORY / "dev.py").read_text(encoding="utf-8"))
    for node in module.body:
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["MESSAGE_KEYWORDS"]:
            return list(ast.literal_eval(node.value))
    raise AssertionError("dev.py has no MESSAGE_KEYWORDS")


def test_every_core_message_has_swedish(tmp_path: Path) -> None:
    pot = tmp_path / "core.pot"
    subprocess.run(
        [
            sys.executable,
            *("-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "--no-location", "-o", str(pot)),
            *(f"-k{keyword}" for keyword in message_keywords()),
            ".",
        ],
        cwd=REPOSITORY,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as source:
        extracted = [message.id for message in read_po(source) if message.id]
    with (CORE_LOCALE_DIR / "sv" / "LC_MESSAGES" / f"{CORE_DOMAIN}.po").open("rb") as source:
        swedish = read_po(source, locale="sv")
    assert len(extracted) > 400
    missing = [msgid for msgid in extracted if swedish.get(msgid) is None or not swedish.get(msgid).string]
    assert not missing, f"no Swedish in core/locale for: {missing}"
