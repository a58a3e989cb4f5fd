"""password_reset: link mails waiting in the outbox move to the core's mail service

Until now the plugin sent its link mail from a topic of its own (``password_reset.send_link``). The mail
is now a kind of the core's mail service (``send_mail``, kind ``password_reset.link``); a link mail still
waiting (pending) is carried over, so no link already issued goes unsent. Its Message-ID stays the same
(it is derived from the dedupe key, ``password_reset.link:<id>``).

Revision ID: password_reset_0002
Revises: password_reset_0001
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "password_reset_0002"
down_revision: str | None = "password_reset_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TOPIC = "password_reset.send_link"
KIND = "password_reset.link"

outbox = sa.table(
    "outbox",
    sa.column("id", sa.Integer),
    sa.column("topic", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("status", sa.String),
    sa.column("dedupe_key", sa.String),
)
link = sa.table("password_reset_link", sa.column("id", sa.Integer), sa.column("email", sa.String))


def upgrade() -> None:
    connection = op.get_bind()
    waiting = connection.execute(
        sa.select(outbox.c.id, outbox.c.payload, link.c.email)
        .select_from(outbox.join(link, link.c.id == sa.cast(outbox.c.payload["link_id"].as_string(), sa.Integer)))
        .where(outbox.c.topic == OLD_TOPIC, outbox.c.status == "pending")
    ).all()
    for row_id, payload, email in waiting:
        connection.execute(
            outbox.update()
            .where(outbox.c.id == row_id)
            .values(
                topic="send_mail",
                payload={"kind": KIND, "address": email, "link_id": int(payload["link_id"])},
                dedupe_key=f"{KIND}:{int(payload['link_id'])}",
            )
        )


def downgrade() -> None:
    connection = op.get_bind()
    waiting = connection.execute(
        sa.select(outbox.c.id, outbox.c.payload).where(outbox.c.topic == "send_mail", outbox.c.status == "pending")
    ).all()
    for row_id, payload in waiting:
        if payload.get("kind") == KIND:
            connection.execute(
                outbox.update()
                .where(outbox.c.id == row_id)
                .values(
                    topic=OLD_TOPIC,
                    payload={"link_id": int(payload["link_id"])},
                    dedupe_key=f"{OLD_TOPIC}:{int(payload['link_id'])}",
                )
            )
