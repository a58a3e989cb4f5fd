"""the text of the mails we sent (replies are tied and their quotes found by it); a request's follow-up

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 07:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'sent_mail',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=250), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['request.id']),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_id'),
    )
    op.create_index('ix_sent_mail_request', 'sent_mail', ['request_id', 'id'], unique=False)
    with op.batch_alter_table('request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follows_up_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_request_follows_up', 'request', ['follows_up_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('request', schema=None) as batch_op:
        batch_op.drop_constraint('fk_request_follows_up', type_='foreignkey')
        batch_op.drop_column('follows_up_id')
    op.drop_index('ix_sent_mail_request', table_name='sent_mail')
    op.drop_table('sent_mail')
