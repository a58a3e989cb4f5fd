"""The simulator's pure parts: how tag numbers compare, which codes and ids new door-phone entries get."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.access_control import AccessControlRefused
from core.access_control.simulator import Fault, tag_key
from core.access_control.simulator.adapter import E164, _next_code, _next_id

digits = st.text(alphabet="0123456789", min_size=1, max_size=16)


@given(number=digits, cuts=st.lists(st.tuples(st.integers(0, 16), st.sampled_from([" ", "  ", "\t"])), max_size=6))
def test_a_tag_number_compares_the_same_however_it_is_spaced(number: str, cuts: list[tuple[int, str]]) -> None:
    spaced = number
    for position, gap in sorted(cuts, reverse=True):
        spaced = spaced[:position] + gap + spaced[position:]
    assert tag_key(f" {spaced} ") == tag_key(number) == number
    assert tag_key(tag_key(spaced)) == tag_key(spaced)


def test_letters_in_a_tag_number_ignore_case() -> None:
    assert tag_key("04ab 12Cd") == tag_key("04AB12CD") == "04AB12CD"
    assert tag_key("   ") == ""


def test_new_door_phone_entries_get_the_next_free_id_and_code() -> None:
    assert _next_id("P", []) == "P001"
    assert _next_id("P", ["P001", "P007", "X999", "Pxyz"]) == "P008"
    assert _next_code([]) == "9001"
    assert _next_code(["1101", "9001", "9003"]) == "9002"
    with pytest.raises(AccessControlRefused, match="no free codes"):
        _next_code([str(code) for code in range(9001, 10000)])


@pytest.mark.parametrize("number", ["+46701234567", "+4681234567", "+358401234567", "+12025550123"])
def test_international_numbers_are_e164(number: str) -> None:
    assert E164.match(number)


@pytest.mark.parametrize("number", ["0701234567", "+0701234567", "+46", "+46 70 123 45 67", "+4670123456789012"])
def test_local_or_malformed_numbers_are_not_e164(number: str) -> None:
    assert not E164.match(number)


def test_the_fault_switch_knows_its_three_positions() -> None:
    assert [fault.value for fault in Fault] == ["", "unavailable", "refuse"]
    with pytest.raises(ValueError):
        Fault("offline")
