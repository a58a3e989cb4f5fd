"""attachments and undeliverable addresses

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 00:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('storage_key', sqlmodel.sql.sqltypes.AutoString(length=220), nullable=False),
    sa.Column('internal', sa.Boolean(), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['chat_message.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['request.id'], ),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.create_index('ix_attachment_request', ['request_id', 'id'], unique=False)
        batch_op.create_index('ix_attachment_origin', ['request_id', 'origin'], unique=True)
        batch_op.create_index(batch_op.f('ix_attachment_message_id'), ['message_id'], unique=False)

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mail_undeliverable_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('mail_undeliverable_reason', sqlmodel.sql.sqltypes.AutoString(length=300),
                                      nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('mail_undeliverable_reason')
        batch_op.drop_column('mail_undeliverable_at')
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachment_message_id'))
        batch_op.drop_index('ix_attachment_origin')
        batch_op.drop_index('ix_attachment_request')
    op.drop_table('attachment')
