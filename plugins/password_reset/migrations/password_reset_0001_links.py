"""password_reset: one-time links to a new service password

Revision ID: password_reset_0001
Revises:
Create Date: 2026-11-30 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "password_reset_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("password_reset",)
depends_on: str | Sequence[str] | None = None  # its own history; the core's is upgraded first


def upgrade() -> None:
    op.create_table(
        "password_reset_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("salt", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("service", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["request.id"],
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["system.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    with op.batch_alter_table("password_reset_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_reset_link_request_id"), ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("password_reset_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_reset_link_request_id"))
    op.drop_table("password_reset_link")
