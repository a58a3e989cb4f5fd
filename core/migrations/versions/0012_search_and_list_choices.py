"""the search index (with its backfill), the lists' remembered choices and their ordering indexes

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07 16:30:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from core.requests import search
from core.requests.search_text import request_text

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def upgrade() -> None:
    op.create_table(
        "list_choice",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("list_key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("query", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("user_id", "list_key"),
    )
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.create_index("ix_request_updated_id", ["updated_at", "id"], unique=False)
        batch_op.create_index("ix_request_status_id", ["status", "id"], unique=False)
        batch_op.create_index("ix_request_assignee_status_id", ["assignee_id", "status", "id"], unique=False)
    connection = op.get_bind()
    for statement in search.schema(connection.dialect.name):
        connection.execute(sa.text(statement))
    _backfill(connection)


def _backfill(connection: sa.Connection) -> None:
    """Index the requests already stored, a batch at a time, the way filing and the chat index new ones."""
    after = 0
    while True:
        requests = connection.execute(
            sa.text(
                "SELECT r.id, r.summary, r.data, o.name, u.name FROM request r "
                'JOIN organisation o ON o.id = r.organisation_id JOIN "user" u ON u.id = r.requester_id '
                "WHERE r.id > :after ORDER BY r.id LIMIT :batch"
            ),
            {"after": after, "batch": BATCH},
        ).all()
        if not requests:
            return
        ids = [row[0] for row in requests]
        public: dict[int, list[str]] = {}
        internal: dict[int, list[str]] = {}
        messages = connection.execute(
            sa.text(
                "SELECT request_id, body, internal FROM chat_message WHERE request_id IN :ids ORDER BY id"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": ids},
        )
        for request_id, body, is_internal in messages:
            (internal if is_internal else public).setdefault(request_id, []).append(body)
        rows = []
        for request_id, summary, data, organisation, requester in requests:
            values = json.loads(data) if isinstance(data, str) else data
            text = request_text(summary or "", values, organisation or "", requester or "")
            rows.append(
                (
                    request_id,
                    "\n".join([text, *public.get(request_id, [])]),
                    "\n".join(internal.get(request_id, [])),
                )
            )
        search.add_rows(connection, rows)
        after = ids[-1]


def downgrade() -> None:
    op.execute("DROP TABLE request_search")
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.drop_index("ix_request_assignee_status_id")
        batch_op.drop_index("ix_request_status_id")
        batch_op.drop_index("ix_request_updated_id")
    op.drop_table("list_choice")
