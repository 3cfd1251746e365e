"""Idempotency keys: what a decision request with ``Idempotency-Key`` was answered.

One row per (token, key) for ``IDEMPOTENCY_SECONDS``: written in the transaction that logs
the request's decisions, so that a retry after a lost answer (the worker killed between
commit and answer) finds it and is answered the same, and logs nothing again. The key is
stored as its HMAC (a client may put anything in it), the body as an HMAC fingerprint, and
the answer, which quotes the request's facts, encrypted under a key derived from the
request itself (``service/idempotency.py``): nothing personal is stored in clear.

Revision ID: 0005
Revises: 0004
Create Date: 2027-02-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("decision_ids", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_expires_at", "idempotency_keys")
    op.drop_table("idempotency_keys")
