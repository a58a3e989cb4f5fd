"""The composition root: settings, database, clock, plugins and request types, built once per process."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from core.access_control import AccessControl
from core.accounts.passwords import MAIL_KINDS as ACCOUNT_MAILS
from core.conversation.notifications import MAIL_KINDS as REQUEST_MAILS
from core.mail.service import MailKind, kinds
from core.models import System
from core.platform import metrics
from core.platform.clock import Clock, SystemClock
from core.platform.db import Database, create_database
from core.platform.errors import ConfigurationError
from core.platform.mailer import Mailer, build_mailer
from core.platform.s3_storage import S3Storage
from core.platform.settings import Settings, get_settings
from core.platform.signing import SecretKeys
from core.platform.storage import FileStorage, FolderStorage
from core.plugins import build_registry, create_plugin_manager, outbox_handlers
from core.requests.request_types import RequestTypeRegistry
from core.views import SystemView
from core.workflow.topics import HANDLERS as CORE_TOPICS


@dataclass
class Portal:
    settings: Settings
    database: Database
    clock: Clock
    plugins: pluggy.PluginManager
    registry: RequestTypeRegistry
    mailer: Mailer
    storage: FileStorage
    plugin_outbox_handlers: dict[str, Any] = field(default_factory=dict)
    core_outbox_handlers: dict[str, Any] = field(default_factory=lambda: CORE_TOPICS)
    """The core's own topics (:mod:`core.workflow.topics`); they win over a plugin's handler for the same topic."""
    mail_kinds: dict[str, MailKind] = field(default_factory=lambda: kinds([REQUEST_MAILS, ACCOUNT_MAILS]))
    """Every kind of mail the portal sends: the core's and the plugins' (``bbportal_mail_kinds``)."""

    def access_control(self, system: System | SystemView) -> AccessControl:
        """The adapter for a hosted system: the first plugin that answers (the simulator answers last)."""
        view = system if isinstance(system, SystemView) else SystemView.of(system)
        adapter = self.hooks.bbportal_access_control(system=view, portal=self)
        if adapter is None:
            raise ConfigurationError("No plugin provides an access-control adapter for %(name)s.", name=system.name)
        return adapter

    @property
    def hooks(self) -> pluggy.HookRelay:
        return self.plugins.hook

    @property
    def secret_key(self) -> str:
        """The current secret key: everything new is signed with it."""
        return self.settings.resolved_secret_key

    @property
    def secret_keys(self) -> SecretKeys:
        """The current key and the fallbacks (``BBPORTAL_SECRET_KEY_FALLBACKS``) still accepted on reading."""
        return self.settings.secret_keys


def build_storage(settings: Settings) -> FileStorage:
    """The storage the settings name: S3-compatible storage for ``BBPORTAL_STORAGE_URL=s3://…``, else the folder."""
    url = settings.storage_url.strip()
    if not url:
        return FolderStorage(settings.resolved_storage_dir)
    if not url.startswith("s3://"):
        raise ConfigurationError(
            "BBPORTAL_STORAGE_URL must be empty (the folder BBPORTAL_STORAGE_DIR) or s3://bucket/prefix, not %(url)s.",
            url=url,
        )
    return S3Storage.from_settings(settings)


def build_portal(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    extra_plugins: Iterable[Any] = (),
    blocked_plugins: Iterable[str] = (),
    mailer: Mailer | None = None,
    storage: FileStorage | None = None,
) -> Portal:
    settings = settings or get_settings()
    settings.check_production()
    metrics.prepare(settings)  # every process builds its portal before it counts anything
    plugins = create_plugin_manager(extra_plugins=extra_plugins, blocked=blocked_plugins)
    return Portal(
        settings=settings,
        database=database
        or create_database(
            settings.resolved_database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
        ),
        clock=clock or SystemClock(),
        plugins=plugins,
        registry=build_registry(plugins),
        mailer=mailer or build_mailer(settings),
        storage=storage or build_storage(settings),
        plugin_outbox_handlers=outbox_handlers(plugins),
        mail_kinds=kinds(
            [REQUEST_MAILS, ACCOUNT_MAILS, *(found or () for found in plugins.hook.bbportal_mail_kinds())]
        ),
    )
