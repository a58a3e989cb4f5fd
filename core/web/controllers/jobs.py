"""Background jobs that failed for good: admins see why and send them again."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import col, select

from core.platform import outbox
from core.platform.errors import NotFound
from core.platform.outbox import OutboxMessage, OutboxStatus
from core.web.common import NOTICES, portal, viewer
from core.web.rendering import page
from core.web.types import HttpRequest
from core.web.viewer import require_admin


class JobsController(Controller):
    include_in_schema = False  # a page, not the API (docs: the OpenAPI document is the API's)
    path = "/admin/jobs"
    guards = [require_admin]

    @get("/", sync_to_thread=True)
    def failed(self, request: HttpRequest, notice: FromQuery[str] = "") -> Template:
        with portal(request).database.reading() as session:
            rows = list(
                session.exec(
                    select(OutboxMessage)
                    .where(OutboxMessage.status == OutboxStatus.FAILED.value)
                    .order_by(col(OutboxMessage.id).desc())
                    .limit(200)
                )
            )
            waiting = len(
                list(
                    session.exec(
                        select(OutboxMessage.id)
                        .where(OutboxMessage.status == OutboxStatus.PENDING.value, col(OutboxMessage.attempts) > 0)
                        .limit(1000)
                    )
                )
            )
        return page("admin/jobs.html", viewer(request), rows=rows, retrying=waiting, notice=NOTICES.get(notice, ""))

    @post("/{job_id:int}/retry", sync_to_thread=True)
    def retry(self, request: HttpRequest, job_id: FromPath[int]) -> Redirect:
        with portal(request).database.reading() as session:
            if session.get(OutboxMessage, job_id) is None:
                raise NotFound("There is no such job.")
        outbox.retry(portal(request), job_id)
        return Redirect("/admin/jobs?notice=retried")
