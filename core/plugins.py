"""The plugin manager factory: specs, entry points, extra plugins; no global built at import time."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pluggy

from core import hookspecs
from core.platform.errors import ConfigurationError
from core.platform.i18n import compile_registered, register_catalog
from core.platform.outbox import OutboxMessage
from core.requests.request_types import RequestType, RequestTypeRegistry
from core.views import BackgroundJob

ENTRY_POINT_GROUP = "bbportal.request_types"

DEFAULT_PLUGINS = (
    ("billing", "core.billing.plugin"),
    ("access_control_simulator", "core.access_control.simulator.plugin"),
)
"""The core's own behaviour written as plugins (name, module), registered before the entry points.

They answer their hooks last where a plugin may replace them (``trylast``), and can be left out with
``blocked=[name]`` like any other plugin.
"""


def create_plugin_manager(
    *, load_entry_points: bool = True, extra_plugins: Iterable[Any] = (), blocked: Iterable[str] = ()
) -> pluggy.PluginManager:
    """Build a plugin manager: built-in and third-party types both come through ``ENTRY_POINT_GROUP``.

    The core's :data:`DEFAULT_PLUGINS` (the access-control simulator) are registered first, whatever
    ``load_entry_points`` says. ``blocked`` names plugins to leave out, built-in or from an entry point
    (tests use it to show a type that is no longer installed, or another adapter without the simulator).
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for name in blocked:
        manager.set_blocked(name)
    for name, module in DEFAULT_PLUGINS:
        if not manager.is_blocked(name):
            _register(manager, importlib.import_module(module), name)
    if load_entry_points:
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            if manager.is_blocked(entry_point.name) or manager.get_plugin(entry_point.name) is not None:
                continue
            try:
                plugin = entry_point.load()
            except Exception as exc:  # a broken plugin must say which one it is
                raise ConfigurationError(
                    "The plugin %(name)s could not be loaded: %(error)s", name=entry_point.name, error=exc
                ) from exc
            _register(manager, plugin, entry_point.name)
    for plugin in extra_plugins:
        if manager.is_registered(plugin):
            continue  # a test's extra plugin that is also installed through its entry point: already here
        _register(manager, plugin, None)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigurationError("A plugin implements a hook that does not exist: %(error)s", error=exc) from exc
    return manager


def _register(manager: pluggy.PluginManager, plugin: Any, name: str | None) -> None:
    try:
        manager.register(plugin, name=name)
    except ValueError as exc:  # pluggy: the name is taken by another plugin
        raise ConfigurationError(
            "Two plugins are registered as %(name)s: %(error)s",
            name=name or getattr(plugin, "__name__", type(plugin).__name__),
            error=exc,
        ) from exc
    except pluggy.PluginValidationError as exc:
        raise ConfigurationError(
            "The plugin %(name)s does not fit the hook specification: %(error)s",
            name=name or getattr(plugin, "__name__", type(plugin).__name__),
            error=exc,
        ) from exc


def outbox_handlers(manager: pluggy.PluginManager) -> dict[str, Any]:
    """Topics plugins handle themselves (rows they queue with ``context.enqueue``)."""
    handlers: dict[str, Any] = {}
    for contributed in reversed(manager.hook.bbportal_outbox_handlers()):
        handlers.update({topic: _given_a_view(handler) for topic, handler in (contributed or {}).items()})
    return handlers


def _given_a_view(handler: Any) -> Any:
    """A plugin's handler gets a read-only :class:`BackgroundJob`, never the outbox row the relay keeps."""

    def handle(portal: Any, message: OutboxMessage) -> None:
        handler(portal, BackgroundJob.of(message))

    return handle


def build_registry(manager: pluggy.PluginManager) -> RequestTypeRegistry:
    types: list[RequestType] = [
        request_type for contributed in manager.hook.bbportal_request_types() for request_type in contributed or ()
    ]
    registry = RequestTypeRegistry(types)
    for request_type in registry:
        if request_type.translation_domain and request_type.locale_dir:
            register_catalog(request_type.translation_domain, request_type.locale_dir)
    return registry


def plugin_names(manager: pluggy.PluginManager) -> list[str]:
    return sorted(name for name, plugin in manager.list_name_plugin() if name and plugin is not None)


def compile_catalogs() -> list[Path]:
    """Compile the core's and every installed plugin's catalogs (run at install time by ``bbportal``)."""
    build_registry(create_plugin_manager())  # registering the request types registers their catalogs
    return compile_registered()
