"""Föreslå en förändring: a customer's suggestion for the portal, their system or our service (handled by hand)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from core.api import FulfilmentMode, RequestType, hookimpl
from plugins.suggestion.schema import SuggestionForm


class Suggestion(RequestType):
    key = "suggestion"
    version = 1
    schema = SuggestionForm
    fulfilment_mode = FulfilmentMode.MANUAL  # read by staff, answered in the request's chat
    name = "Suggest a change"
    description = "Tell us if you feel something is missing in our portal, or if there is anything you would like."
    icon = "💡"
    translation_domain = "suggestion"
    locale_dir = Path(__file__).parent / "locale"
    system_field = "system_id"
    allows_carry_out_on = False  # a suggestion is read, not carried out on a day
    order = 40

    def summary(self, data: BaseModel) -> str:
        """The suggestion's first line, as the customer wrote it (stored once, never translated)."""
        assert isinstance(data, SuggestionForm)
        return data.suggestion.splitlines()[0] if data.suggestion else ""


@hookimpl
def bbportal_request_types() -> list[RequestType]:
    return [Suggestion()]
