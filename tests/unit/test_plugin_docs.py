"""Every hook is documented: a reference entry in docs/writing-plugins.md and a docstring on its spec."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from core import hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "writing-plugins.md"
HOOKS = hookspecs.all_hook_names()


def documented_hooks() -> set[str]:
    return set(re.findall(r"^### (bbportal_\w+)\s*$", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE))


def test_there_are_hooks_to_check() -> None:
    assert "bbportal_request_types" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_reference_entry(hook: str) -> None:
    assert hook in documented_hooks(), f"docs/writing-plugins.md has no '### {hook}' entry"


def test_the_reference_names_no_hook_that_does_not_exist() -> None:
    assert documented_hooks() <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_says_when_it_is_called_and_what_it_returns(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert "Called" in doc, f"{hook}: the docstring does not say when it is called"
    assert ":return:" in doc, f"{hook}: the docstring does not say what it returns"
