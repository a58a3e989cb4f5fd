"""Föreslå en förändring: a customer's suggestion for the portal, their system or our service (handled by hand)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from core.api import FulfilmentMode, RequestType, gettext, hookimpl, one_line
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
        """ "Förslag:" and the suggestion's first line as the customer wrote it, cut to one line (~60 characters)."""
        assert isinstance(data, SuggestionForm)
        return one_line(f"{gettext('Suggestion')}: {one_line(data.suggestion)}")  # its first line with words


@hookimpl
def bbportal_request_types() -> list[RequestType]:
    return [Suggestion()]
