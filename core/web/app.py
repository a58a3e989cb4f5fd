"""The Litestar application factory: wiring only; each area lives in its own controller."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.logging import LoggingConfig
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusConfig
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from core.portal import Portal, build_portal
from core.requests.attachment_types import ACCEPT
from core.requests.attachments import MAX_FILES, max_mb_label
from core.requests.waiting import badge_label, count_for
from core.web import rate_limits
from core.web.common import allow_uploads
from core.web.controllers.admin import AdminController
from core.web.controllers.api import ApiController
from core.web.controllers.auth import AuthController
from core.web.controllers.billing import BillingAdminController, BillingApiController, BillingStaffController
from core.web.controllers.customer import CustomerController, HomeController
from core.web.controllers.devmail import DevMailController
from core.web.controllers.health import HealthController
from core.web.controllers.jobs import JobsController
from core.web.controllers.metrics import MetricsController
from core.web.controllers.profile import ProfileController
from core.web.controllers.quarantine import QuarantineController
from core.web.controllers.search import SearchController
from core.web.controllers.staff import StaffController
from core.web.downloads import NO_COMPRESSION
from core.web.errors import EXCEPTION_HANDLERS
from core.web.input_checks import check_input
from core.web.logging import install as redact_access_log
from core.web.rendering import build_environment, type_label
from core.web.request_id import request_id_middleware
from core.web.security_headers import security_headers
from core.web.types import HttpRequest
from core.web.viewer import check_csrf, refuse_large_text_posts, viewer_middleware

STATIC = Path(__file__).parent / "static"
LITESTAR_LOGGING = LoggingConfig(
    configure_root_logger=False,
    handlers={"console": {"class": "logging.NullHandler"}, "queue_listener": {"class": "logging.NullHandler"}},
    loggers={"litestar": {"level": "INFO", "handlers": [], "propagate": True}},
    log_exceptions="debug",
)
"""Litestar's lines go to the root handler like everyone's (``core.platform.logs``: text or JSON, with the request
id); left to itself, Litestar would put a handler and format of its own on the root of every web process."""


@asynccontextmanager
async def _embedded_worker(app: Litestar) -> AsyncIterator[None]:
    """Embedded mode: the web process also runs the Dramatiq worker and the outbox relay."""
    portal: Portal = app.state.portal
    if not portal.settings.runs_embedded_worker:
        yield
        return
    from core.worker.runner import EmbeddedWorker

    worker = EmbeddedWorker(portal)
    worker.start()
    try:
        yield
    finally:
        worker.stop()


def freeze_startup_objects() -> None:
    """Move everything the process holds once started (modules, the app, the templates' environment) out of the
    garbage collector's reach: it never becomes garbage, and without this every full collection walks it again —
    about 120 ms, in which the process answers nobody (docs/benchmarks.md, session 12).
    The CPython documentation recommends it for long-running processes; the objects stay alive as before."""
    gc.freeze()


async def check_request(request: HttpRequest) -> None:
    """Before every handler: the size of a text post, then input no database should see, then CSRF."""
    refuse_large_text_posts(request)
    await check_input(request)
    await check_csrf(request)


def _request_metrics(portal: Portal) -> list[DefineMiddleware]:
    """Litestar's request counts and durations, by route (its path template, never the path with a request's
    number in it); only when ``/metrics`` exists (a token is set), so a portal nobody scrapes pays nothing."""
    if not portal.settings.metrics_token:
        return []
    config = PrometheusConfig(
        app_name="bbportal",
        prefix="bbportal_http",
        group_path=True,
        exclude=["^/metrics", "^/healthz", "^/readyz", "^/static/"],
    )
    return [config.middleware]


def create_app(portal: Portal | None = None) -> Litestar:
    portal = portal or build_portal()
    redact_access_log()
    template_dirs = [t.locale_dir.parent / "templates" for t in portal.registry if t.locale_dir is not None]
    environment = build_environment([d for d in template_dirs if d.is_dir()])
    from core.platform.mailer import FolderMailer

    development = (
        [DevMailController] if not portal.settings.production and isinstance(portal.mailer, FolderMailer) else []
    )
    environment.globals["dev_mail"] = bool(development)
    environment.filters["type_label"] = partial(type_label, portal.registry)
    contributed = [handler for handlers in portal.hooks.bbportal_routes() for handler in handlers or ()]
    environment.globals.update(
        attachment_accept=ACCEPT,
        attachment_max_bytes=portal.settings.attachment_max_bytes,
        attachment_max_mb=partial(max_mb_label, portal.settings.attachment_max_bytes),  # in the page's language
        attachment_max_files=MAX_FILES,
        waiting_for_answer=partial(count_for, portal.database),  # the customer's navigation badge, per page
        waiting_badge=badge_label,
    )
    app = Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            *development,
            AuthController,
            HomeController,
            CustomerController,
            StaffController,
            SearchController,
            AdminController,
            BillingStaffController,
            BillingAdminController,
            JobsController,
            QuarantineController,
            ProfileController,
            ApiController,
            *contributed,
            BillingApiController,
            create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
        ],
        middleware=[
            request_id_middleware,
            *_request_metrics(portal),
            viewer_middleware,
            *rate_limits.middleware(portal.settings),
        ],
        stores={rate_limits.STORE: rate_limits.store(portal.settings)},
        before_request=check_request,
        before_send=[security_headers(https=portal.settings.base_url.startswith("https://"))],
        exception_handlers=EXCEPTION_HANDLERS,
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment)),
        openapi_config=OpenAPIConfig(
            title="BBGRUPPEN Portal API",
            version="1",
            description=(
                "The JSON API of the BBGRUPPEN Portal: the same actions and rules as its pages. Authenticate with a "
                "personal API token (`Authorization: Bearer bbp_…`, made on the profile page). Every error is "
                "`{detail, status_code}` in the token owner's language. No text anywhere — body, path or query — may "
                "contain the NUL character: such a request is refused with 400 before anything is read."
            ),
            components=Components(security_schemes={"token": SecurityScheme(type="http", scheme="bearer")}),
            security=[{"token": []}],
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048, exclude_opt_key=NO_COMPRESSION),
        logging_config=LITESTAR_LOGGING,
        debug=False,
        lifespan=[_embedded_worker],
        on_startup=[freeze_startup_objects],
    )
    app.state.portal = portal
    # The forms that carry files take bodies up to a full set of files; every other route keeps
    # Litestar's default limit, so a large url-encoded body is never read into memory elsewhere.
    allow_uploads(app, portal.settings)
    return app
