"""PostgreSQL: the search index's GIN pending lists kept short (gin_pending_list_limit 256 kB)

New rows go to a GIN index's pending list, which every search through that index reads in full until it is
merged (by VACUUM, or by the insert that overflows it). At the default limit (4 MB) a search for a rare word
read four lists of up to 4 MB: 5–9 ms of database time at a million requests, for a search that otherwise
takes a fraction of a millisecond. At 256 kB the lists are merged sixteen times as often, a little at a time.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 00:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    "ix_request_search_public_words",
    "ix_request_search_internal_words",
    "ix_request_search_public_trgm",
    "ix_request_search_internal_trgm",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's FTS5 table has no pending lists
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} SET (gin_pending_list_limit = 256)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (gin_pending_list_limit)")
