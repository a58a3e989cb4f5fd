"""Wheel build hook: the portal's wheel carries its catalogs compiled, so an installed portal compiles nothing.

The ``.mo`` files are not in git (they are built from the ``.po`` files); without this hook a wheel would ship
only the ``.po`` files and every fresh installation would compile them at its first start, into its own
site-packages (or, where that is read-only, in memory in every process). Each ``.mo`` is written by the
portal's own ``write_catalog`` (``core/platform/i18n.py``, loaded from its file: the portal's dependencies are
not installed where the wheel is built, Babel is) and stamped with its ``.po``'s digest, which the installed
portal checks instead of file times.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGES = ("core", "plugins")


def _i18n(root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("_bbportal_build_i18n", root / "core" / "platform" / "i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CompiledCatalogs(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install runs from the source folder, where `bbportal catalogs compile` writes
        root = Path(self.root)
        i18n = _i18n(root)
        self._compiled = tempfile.TemporaryDirectory(prefix="bbportal-catalogs-")
        for package in PACKAGES:
            for po in sorted((root / package).glob("**/locale/*/LC_MESSAGES/*.po")):
                relative = po.relative_to(root).with_suffix(".mo")
                mo = Path(self._compiled.name) / relative
                mo.parent.mkdir(parents=True, exist_ok=True)
                i18n.write_catalog(po, mo, po.stem, po.parent.parent.name)
                build_data["force_include"][str(mo)] = relative.as_posix()

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        compiled = getattr(self, "_compiled", None)
        if compiled is not None:
            compiled.cleanup()
