"""Our Message-IDs: the same for every retry of a mail, signed with the recipient, recognisable only by us."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.mail import reply_tokens

SECRET = "test-secret-" + "x" * 40
keys = st.builds(
    lambda kind, numbers: ":".join([kind, *map(str, numbers)]),
    st.sampled_from(["mail", "answer", "reminder", "password", "password_reset.link"]),
    st.lists(st.integers(1, 2**31 - 1), min_size=1, max_size=3),
)


@given(key=keys, user_id=st.integers(0, 2**31 - 1))
def test_a_message_id_names_its_recipient_to_us_alone(key: str, user_id: int) -> None:
    message_id = reply_tokens.message_id(SECRET, "bbgruppen.example", key, user_id)
    assert message_id == reply_tokens.message_id(SECRET, "bbgruppen.example", key, user_id)  # retries: same id
    assert reply_tokens.recipients_in_message_ids(SECRET, f"<other@x> {message_id}") == [user_id]
    assert reply_tokens.recipients_in_message_ids("another-secret-" + "y" * 40, message_id) == []
    local, _, domain = message_id.strip("<>").partition("@")
    stem, user_part, signature = local.rsplit(".", 2)
    for altered in (
        f"<{stem}.u{user_id + 1}.{signature}@{domain}>",  # moved to another recipient
        f"<{stem}9.{user_part}.{signature}@{domain}>",  # moved to another mail
        f"<{stem}.{user_part}.{signature[::-1]}@{domain}>",  # not our signature
    ):
        assert reply_tokens.recipients_in_message_ids(SECRET, altered) == [], altered
