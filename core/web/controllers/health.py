"""Probes for load balancers and supervisors: ``/healthz`` (the process answers) and ``/readyz`` (it can work).

Both are for machines: no log-in, no cookies, no database for ``/healthz``, not in the OpenAPI document, and
outside the rate limits (which count only the API and filings). The viewer middleware leaves them alone
(route option ``PROBE``), so a stale session cookie or a revoked token never turns a probe into a 401.
"""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from core.web import readiness
from core.web.common import portal
from core.web.types import PROBE, HttpRequest


class HealthController(Controller):
    include_in_schema = False  # for machines, not part of the API
    opt = {PROBE: True}

    @get("/healthz")
    async def healthz(self) -> Response[dict[str, str]]:
        """The process lives and its event loop answers: nothing else is asked (a liveness probe)."""
        return Response({"status": "ok"}, status_code=HTTP_200_OK)

    @get("/readyz", sync_to_thread=True)
    def readyz(self, request: HttpRequest) -> Response[dict[str, object]]:
        """Every check of :mod:`core.web.readiness`; 503 naming the failing ones (a readiness probe)."""
        found = readiness.check(portal(request))
        status = HTTP_200_OK if not found.failing else HTTP_503_SERVICE_UNAVAILABLE
        return Response(found.as_json(), status_code=status)
