"""The plugin manager factory: a fresh one per call, typos and duplicate keys refused, entry points read."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from core.api import RequestType, hookimpl
from core.platform.errors import ConfigurationError
from core.plugins import ENTRY_POINT_GROUP, build_registry, create_plugin_manager, plugin_names
from tests.plugins.sample_types import SamplePlugin


class _Form(BaseModel):
    text: str


class _Duplicate(RequestType):
    key = "sample_manual"
    name = "Another manual sample"
    schema = _Form


class DuplicatePlugin:
    @hookimpl
    def bbportal_request_types(self) -> list[RequestType]:
        return [_Duplicate()]


class TypoPlugin:
    @hookimpl
    def bbportal_request_typez(self) -> list[RequestType]:
        return []


def test_each_call_builds_a_fresh_manager() -> None:
    first = create_plugin_manager(load_entry_points=False, extra_plugins=[SamplePlugin()])
    second = create_plugin_manager(load_entry_points=False)

    assert first is not second
    assert "sample_manual" in build_registry(first)
    assert len(build_registry(second)) == 0, "a plugin registered on one manager leaked into the next"


def test_a_hookimpl_with_a_misspelt_name_is_refused() -> None:
    with pytest.raises(ConfigurationError) as raised:
        create_plugin_manager(load_entry_points=False, extra_plugins=[TypoPlugin()])

    assert "bbportal_request_typez" in str(raised.value)


def test_two_plugins_with_the_same_key_are_refused_naming_the_key() -> None:
    plugins = [SamplePlugin(), DuplicatePlugin()]
    manager = create_plugin_manager(load_entry_points=False, extra_plugins=plugins)

    with pytest.raises(ConfigurationError) as raised:
        build_registry(manager)

    assert "sample_manual" in str(raised.value)
    assert raised.value.params == {"key": "sample_manual"}


def test_the_built_in_fault_report_comes_through_the_entry_point_group() -> None:
    manager = create_plugin_manager()

    assert ENTRY_POINT_GROUP == "bbportal.request_types"
    assert "fault_report" in plugin_names(manager)
    assert manager.get_plugin("fault_report") is not None
    assert "fault_report" in build_registry(manager)


def test_a_blocked_entry_point_is_left_out() -> None:
    manager = create_plugin_manager(blocked=["fault_report"])

    # get_plugin, not plugin_names: pluggy keeps a blocked name as (name, None) in list_name_plugin().
    assert manager.is_blocked("fault_report")
    assert manager.get_plugin("fault_report") is None
    assert "fault_report" not in build_registry(manager)


def test_without_entry_points_only_extra_plugins_count() -> None:
    manager = create_plugin_manager(load_entry_points=False, extra_plugins=[SamplePlugin()])

    keys = [t.key for t in build_registry(manager)]
    assert keys == ["sample_approval", "sample_automatic", "sample_manual"]


def _registry_of(request_type: RequestType) -> object:
    class Plugin:
        @hookimpl
        def bbportal_request_types(self) -> list[RequestType]:
            return [request_type]

    return build_registry(create_plugin_manager(load_entry_points=False, extra_plugins=[Plugin()]))


def test_a_form_template_that_is_not_there_stops_the_start(tmp_path: Path) -> None:
    """A typo in form_template is found at start-up, not on the first customer's form page."""
    (tmp_path / "templates" / "guided").mkdir(parents=True)
    (tmp_path / "templates" / "guided" / "form.html").write_text("<p>{{ _('Read this first.') }}</p>")

    class Guided(RequestType):
        key = "guided"
        name = "Guided"
        schema = _Form
        locale_dir = tmp_path / "locale"
        form_template = "guided/form.html"

    assert "guided" in _registry_of(Guided())  # type: ignore[operator]

    class Misspelt(Guided):
        form_template = "guided/from.html"

    class NoFolder(Guided):
        locale_dir = None

    for broken in (Misspelt(), NoFolder()):
        with pytest.raises(ConfigurationError) as raised:
            _registry_of(broken)
        assert "form_template" in str(raised.value) and "guided" in str(raised.value)
