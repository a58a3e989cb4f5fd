"""File names people send: safe to store, show and offer for download, whatever they were."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.requests.attachment_types import KINDS, name_for
from core.requests.attachments import MAX_FILENAME, sanitise_filename
from core.web.downloads import content_disposition


@given(st.text(max_size=600))
def test_a_sanitised_name_is_never_empty_never_a_path_and_at_most_200_characters(name: str) -> None:
    clean = sanitise_filename(name)
    assert clean
    assert "/" not in clean and "\\" not in clean
    assert clean not in (".", "..")
    assert len(clean) <= MAX_FILENAME
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in clean)


@given(st.text(max_size=600), st.sampled_from(sorted(KINDS)))
def test_the_stored_name_keeps_those_properties_and_ends_in_the_kinds_extension(name: str, content_type: str) -> None:
    kind = KINDS[content_type]
    stored = sanitise_filename(name_for(sanitise_filename(name), kind))
    assert stored and "/" not in stored and "\\" not in stored and len(stored) <= MAX_FILENAME
    assert kind.accepts_extension("." + stored.rsplit(".", 1)[-1].lower())


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\Maja\\Desktop\\Felanmälan dörr.pdf", "Felanmälan dörr.pdf"),
        ("  .hidden  ", "hidden"),
        ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
        ("rad\r\nbrytning.txt", "rad_brytning.txt"),
        ("", "fil"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_examples_of_sanitising(given_name: str, expected: str) -> None:
    assert sanitise_filename(given_name) == expected


def test_swedish_names_survive_the_download_header() -> None:
    header = content_disposition("Åtgärdslista för dörr 3.pdf")
    assert header.startswith('attachment; filename="Atgardslista for dorr 3.pdf"; ')
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "Åtgärdslista för dörr 3.pdf"
    assert " " not in encoded and "\r" not in header and "\n" not in header


@given(st.text(min_size=1, max_size=200))
def test_no_name_breaks_out_of_the_download_header(name: str) -> None:
    header = content_disposition(sanitise_filename(name), inline=True)
    fallback = header.split('filename="', 1)[1].split('"; filename*=', 1)[0]
    assert '"' not in fallback and "\\" not in fallback and fallback.isascii()
    assert "\r" not in header and "\n" not in header and header.isascii()
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == sanitise_filename(name)
