"""The application's error base and its kinds; the web layer maps them to responses in one place."""

from __future__ import annotations

from core.platform.i18n import N_


class PortalError(Exception):
    """An error the user may see: ``detail`` is a message id, translated when shown."""

    status_code = 400

    def __init__(self, detail: str, **params: object) -> None:
        super().__init__(detail % params if params else detail)
        self.detail = detail
        self.params = params


class ConfigurationError(PortalError):
    """A setting that makes the installation refuse to start."""


class NotFound(PortalError):
    """Missing, or outside the viewer's organisation: both look the same to the viewer."""

    status_code = 404


class Forbidden(PortalError):
    status_code = 403


class Conflict(PortalError):
    """The action does not fit the request's current state (an illegal transition, a lost race)."""

    status_code = 409


CORRECT_THE_MARKED_FIELDS = N_("Please correct the marked fields.")


MAX_FIELD_ERRORS = 50
"""Fields a ValidationFailed names at most; ``more_errors`` counts the rest (no form has that many fields)."""


class ValidationFailed(PortalError):
    """Input that does not validate; ``errors`` maps a field path to its messages.

    At most :data:`MAX_FIELD_ERRORS` fields are kept: a body of thousands of unknown keys is answered with a
    short list and a count, not with an error per key.
    """

    status_code = 422

    def __init__(self, errors: dict[str, list[str]], detail: str = CORRECT_THE_MARKED_FIELDS) -> None:
        super().__init__(detail)
        self.more_errors = max(len(errors) - MAX_FIELD_ERRORS, 0)
        self.errors = dict(list(errors.items())[:MAX_FIELD_ERRORS]) if self.more_errors else errors


class Throttled(PortalError):
    status_code = 429
