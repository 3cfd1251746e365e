"""Policy bundles: published sets, their activations, and the bundle of each decision.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_bundles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("digest", sa.String(80), nullable=False, unique=True),
        sa.Column("files", sa.JSON, nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "bundle_activations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bundle_id", sa.Integer, sa.ForeignKey("policy_bundles.id"), nullable=False),
        sa.Column("activated_by", sa.String(200), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("bundle_id", sa.Integer, nullable=True))
    op.create_index("ix_decisions_bundle_id", "decisions", ["bundle_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_decisions_bundle_id", "decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("bundle_id")
    op.drop_table("bundle_activations")
    op.drop_table("policy_bundles")
