"""Access log lines never carry a one-time link's token."""

from __future__ import annotations

import logging

from core.web.logging import RedactTokens, secret_path


def record(path: str) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1", "GET", path, "1.1", 200),
        None,
    )


def test_tokens_in_link_paths_are_redacted() -> None:
    secret_path("/password-reset")  # as the password_reset plugin does for its link page
    for path, expected in [
        ("/password/abc123.def", "/password/[redacted]"),
        ("/password-reset/Zm9vYmFy?x=1", "/password-reset/[redacted]?x=1"),
        ("/password/forgot", "/password/forgot"),
        ("/requests/12", "/requests/12"),
    ]:
        line = record(path)
        assert RedactTokens().filter(line)
        assert expected in line.getMessage() and (expected == path or path not in line.getMessage())
