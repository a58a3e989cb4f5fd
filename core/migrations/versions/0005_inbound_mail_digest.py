"""inbound mail digest (a redelivered mail is taken once)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 02:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False,
                                      server_default=''))
        batch_op.create_index('ix_inbound_mail_digest', ['digest'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbound_mail', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_mail_digest')
        batch_op.drop_column('digest')
