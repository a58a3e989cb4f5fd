"""Short request titles (the type and its key fact on one line) and phone numbers as people write them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.portal import Portal
from core.requests.fields import display_phone, normalise_swedish_phone, one_line
from plugins.fault_report import FaultReport
from plugins.fault_report.schema import FaultReportForm
from tests.support import VALID_FAULT


def test_a_fault_reports_title_is_the_type_where_and_what_cut_to_one_line(portal: Portal) -> None:
    """In Swedish, whoever files it (the portal's catalogs are loaded with it)."""
    data = FaultReportForm.model_validate(
        {
            **VALID_FAULT,
            "system_id": 1,
            "location": "Port 3",
            "description": "Går inte att öppna med taggen sedan i morse, varken in eller ut, och displayen är svart.\n"
            "Mer text som hör till brödtexten.",
        }
    )
    title = FaultReport().summary(data)
    assert title.startswith("Felanmälan: Port 3 – Går inte att öppna") and title.endswith("…")
    assert len(title) <= 60 and "brödtexten" not in title


@given(st.text(max_size=300))
def test_one_line_is_short_and_single(text: str) -> None:
    line = one_line(text)
    assert len(line) <= 60 and "\n" not in line and "\r" not in line


def test_phones_are_stored_in_e164_and_shown_as_written() -> None:
    for written in ("070-123 45 67", "+46 70 123 45 67", "0046701234567", "0701234567"):
        assert normalise_swedish_phone(written) == "+46701234567"
    assert display_phone("+46701234567") == "070-123 45 67"
    assert display_phone("+4681234567") == "08-123 45 67"
    assert display_phone("not a number") == "not a number"  # an old row is shown as stored
