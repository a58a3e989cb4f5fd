"""Entry module for ``dramatiq core.worker.main``: log format and broker from the settings first, then the actors."""

from __future__ import annotations

from core.platform import logs
from core.platform.settings import get_settings
from core.worker.broker import configure_broker

# Dramatiq gave this worker process a handler in its own format; the portal's (text or JSON, with the jobs'
# request ids) replaces it and writes to the same place (Dramatiq's pipe to its main process).
logs.configure(get_settings(), replace=True)
configure_broker(get_settings().redis_url, get_settings().redis_namespace)

from core.worker import actors  # noqa: E402  (actors must be imported after the broker is set)

__all__ = ["actors"]
