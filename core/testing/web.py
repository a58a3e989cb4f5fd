"""A browser-like client for a plugin's page tests: it logs in like a person and sends the CSRF token."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient

from core.testing.world import PASSWORD

CSRF = re.compile(r'name="_csrf" value="([^"]*)"')


class WebClient:
    """Litestar's test client with the portal's log-in and forms: ``web.login(email)``, then ``get``/``post``.

    ``post`` adds the CSRF token of the last page it saw (or of the log-in page), as a browser's form does.
    ``web.client`` is the underlying :class:`litestar.testing.TestClient` (JSON API calls, headers).
    """

    def __init__(self, client: TestClient[Any]) -> None:
        self.client = client
        self._csrf = ""

    def get(self, url: str, **kwargs: Any) -> Any:
        response = self.client.get(url, **kwargs)
        self._remember(response)
        return response

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if not self._csrf:
            self.get("/login")
        response = self.client.post(url, data={"_csrf": self._csrf, **(data or {})}, **kwargs)
        self._remember(response)
        return response

    def login(self, email: str, password: str = PASSWORD) -> Any:
        """Log in as ``email`` (every demo-world user has the kit's ``PASSWORD``); returns the log-in answer."""
        self.get("/login")
        response = self.post("/login", {"email": email, "password": password}, follow_redirects=False)
        self.get("/profile")
        return response

    def _remember(self, response: Any) -> None:
        found = CSRF.search(response.text) if "text/html" in response.headers.get("content-type", "") else None
        if found:
            self._csrf = found.group(1)
