"""Entry module for ``dramatiq core.worker.main``: the broker from settings first, then the actors."""

from __future__ import annotations

from core.platform.settings import get_settings
from core.worker.broker import configure_broker

configure_broker(get_settings().redis_url, get_settings().redis_namespace)

from core.worker import actors  # noqa: E402  (actors must be imported after the broker is set)

__all__ = ["actors"]
