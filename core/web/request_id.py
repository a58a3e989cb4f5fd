"""The request id of every web request: bound while it is handled, returned in ``X-Request-ID``.

A sane ``X-Request-ID`` from the proxy is kept (its logs and ours then share the id), anything else is replaced
by a new one (``core.platform.request_ids``). Outermost of the app's middleware, so the viewer's and the
handlers' log lines, the outbox rows a filing writes and uvicorn's access line all carry it.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.platform import request_ids

HEADER = b"x-request-id"


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        sent = next((value for name, value in scope["headers"] if name == HEADER), None)
        request_id = request_ids.accept(sent.decode("latin-1") if sent is not None else None)
        encoded = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (HEADER, encoded)]
            await send(message)

        with request_ids.bound(request_id):
            await app(scope, receive, send_with_id)

    return middleware
