"""the outbox relay's index: pending rows not yet handed out, in the order they become due

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 07:00:00

The old index (status, available_at, id) made every relay round read and sort every pending row, also
the thousands already handed out and in flight after a burst of filings (and on SQLite it did so inside
the writer's turn). The new one puts the rows not handed out first, in the order they become due, so rows
in flight and rows waiting out a retry's backoff are never read.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending')
        batch_op.create_index('ix_outbox_relay', ['status', 'relayed_at', 'available_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_relay')
        batch_op.create_index('ix_outbox_pending', ['status', 'available_at', 'id'], unique=False)
