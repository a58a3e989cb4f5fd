"""``/metrics`` for Prometheus: behind a bearer token, absent without one (``core.web.metrics`` says what it shows)."""

from __future__ import annotations

from litestar import Response, get
from litestar.plugins.prometheus import PrometheusController
from litestar.status_codes import HTTP_401_UNAUTHORIZED, HTTP_404_NOT_FOUND
from prometheus_client import CONTENT_TYPE_LATEST

from core.web import metrics
from core.web.common import portal
from core.web.types import PROBE, HttpRequest


class MetricsController(PrometheusController):
    """Litestar's Prometheus endpoint, with the portal's token check and the portal's own collector.

    Its handler is replaced, not extended: Litestar's reads only the counters (of the default registry, or of
    the multiprocess folder it finds in the environment); ours adds the database's state and takes the
    folder from the settings.
    """

    include_in_schema = False  # for Prometheus, not part of the API
    opt = {PROBE: True}  # no session or API token is looked up: the metrics token is the only credential

    @get(sync_to_thread=True)
    def get(self, request: HttpRequest) -> Response[bytes]:
        settings = portal(request).settings
        if not settings.metrics_token:
            # Plain text like the 401: a probe looks up no viewer, so an HTML error page would not know their
            # language; and to a person there is nothing here.
            return Response(b"404: Not Found\n", status_code=HTTP_404_NOT_FOUND, media_type="text/plain")
        if not metrics.authorized(settings, request.headers.get("authorization")):
            # A plain 401 for a machine, not the log-in redirect that pages answer people with.
            return Response(
                b"401: the metrics token is missing or wrong\n",
                status_code=HTTP_401_UNAUTHORIZED,
                media_type="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return Response(
            metrics.exposition(portal(request)), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"}
        )
