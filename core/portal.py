"""The composition root: settings, database, clock, plugins and request types, built once per process."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from core.clock import Clock, SystemClock
from core.db import Database, create_database
from core.mailer import Mailer, build_mailer
from core.plugins import build_registry, create_plugin_manager, outbox_handlers
from core.request_types import RequestTypeRegistry
from core.settings import Settings, get_settings


@dataclass
class Portal:
    settings: Settings
    database: Database
    clock: Clock
    plugins: pluggy.PluginManager
    registry: RequestTypeRegistry
    mailer: Mailer
    plugin_outbox_handlers: dict[str, Any] = field(default_factory=dict)

    @property
    def hooks(self) -> pluggy.HookRelay:
        return self.plugins.hook

    @property
    def secret_key(self) -> str:
        return self.settings.resolved_secret_key


def build_portal(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    extra_plugins: Iterable[Any] = (),
    blocked_plugins: Iterable[str] = (),
    mailer: Mailer | None = None,
) -> Portal:
    settings = settings or get_settings()
    settings.check_production()
    plugins = create_plugin_manager(extra_plugins=extra_plugins, blocked=blocked_plugins)
    return Portal(
        settings=settings,
        database=database or create_database(settings.resolved_database_url),
        clock=clock or SystemClock(),
        plugins=plugins,
        registry=build_registry(plugins),
        mailer=mailer or build_mailer(settings),
        plugin_outbox_handlers=outbox_handlers(plugins),
    )
