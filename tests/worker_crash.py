"""Loaded into a test's ``dramatiq`` worker process: kills the process once at a chosen step of a mail job.

BBPORTAL_TEST_CRASH=before_send kills it just before the SMTP server is contacted, ``after_send`` just after
the server accepted the mail but before the job is recorded as done. A marker file makes it happen once.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from core.platform import mailer

STEP = os.environ.get("BBPORTAL_TEST_CRASH", "")
MARKER = Path(os.environ.get("BBPORTAL_TEST_CRASH_MARKER", "/nonexistent/marker"))
_original_send = mailer.SmtpMailer.send


def _crash_once() -> None:
    if not MARKER.exists():
        MARKER.write_text("crashed")
        os.kill(os.getpid(), signal.SIGKILL)


def _send(self: mailer.SmtpMailer, message: object) -> None:
    if STEP == "before_send":
        _crash_once()
    _original_send(self, message)  # type: ignore[arg-type]
    if STEP == "after_send":
        _crash_once()


mailer.SmtpMailer.send = _send  # type: ignore[method-assign]
