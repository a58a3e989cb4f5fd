"""a request's title in English beside the Swedish one (summary_en; older requests keep theirs)

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07 16:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('request') as batch:
        batch.add_column(sa.Column('summary_en', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('request') as batch:
        batch.drop_column('summary_en')
