"""Pinned decisions: whether the caller named the version instead of letting as_of pick it.

Not nullable, with a server default of false, so every row logged before this migration
reads as what it was: a decision under the version in force. The index serves
``GET /v1/decisions?pinned=true``: what-ifs are rare, and without it the newest-first page
would scan the whole log to find them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("pinned", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
    op.create_index("ix_decisions_pinned", "decisions", ["pinned", "id"])


def downgrade() -> None:
    op.drop_index("ix_decisions_pinned", "decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("pinned")
