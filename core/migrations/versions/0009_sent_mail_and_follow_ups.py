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
    # Not a batch rebuild of ``request``: on SQLite, dropping the old table of a rebuild fails (foreign keys are
    # on and every history row, message and file points at a request). SQLite adds a nullable column with its
    # REFERENCES clause in place; PostgreSQL adds the column and then the constraint.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE request ADD COLUMN follows_up_id INTEGER REFERENCES request (id)')
    else:
        op.add_column('request', sa.Column('follows_up_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_request_follows_up', 'request', 'request', ['follows_up_id'], ['id'])


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite cannot drop a column that references another table, and rebuilding ``request`` fails while
        # rows point at it: the column stays, unused by the older code (which never reads it).
        pass
    else:
        op.drop_constraint('fk_request_follows_up', 'request', type_='foreignkey')
        op.drop_column('request', 'follows_up_id')
    op.drop_index('ix_sent_mail_request', table_name='sent_mail')
    op.drop_table('sent_mail')
