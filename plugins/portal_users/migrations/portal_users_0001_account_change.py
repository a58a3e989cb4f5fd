"""portal_users: the account changes each request made

Revision ID: portal_users_0001
Revises:
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "portal_users_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("portal_users",)
depends_on: str | Sequence[str] | None = None  # its own history; the core's is upgraded first


def upgrade() -> None:
    op.create_table(
        "portal_users_account_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["request.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("portal_users_account_change", schema=None) as batch_op:
        batch_op.create_index("ix_portal_users_account_change_request", ["request_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_portal_users_account_change_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("portal_users_account_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_users_account_change_user_id"))
        batch_op.drop_index("ix_portal_users_account_change_request")
    op.drop_table("portal_users_account_change")
