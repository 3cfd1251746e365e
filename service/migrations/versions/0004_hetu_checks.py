"""What the policy could derive from each personal identity code, beside its hash; and an
index for reading one policy's decisions newest first.

A ``hetu`` fact is logged as ``hetu#<hmac>``; all the policy language can learn from a code
is whether it is valid and whether it is temporary (``valid_hetu``, ``temporary_hetu``). The
new JSON column ``hetu_checks`` keeps exactly that per personal fact, e.g.
``{"client": {"valid": true, "temporary": false}}`` (null for blank text, a list for a list
of codes), so a replay (``rehab-rules impact``) can put in a synthetic code the engine judges
alike. Nullable: rows logged before this migration have none, and a replay reports their
hashed codes as not replayable instead of guessing.

``ix_decisions_policy_id`` (policy, id) serves the replay's batches, ``WHERE policy = ? AND
id < ? ORDER BY id DESC LIMIT 1000``: without it SQLite took the (policy, action) index and
sorted every row of the policy for each batch, quadratic in the size of the log.

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-15
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("hetu_checks", sa.JSON, nullable=True))
    op.create_index("ix_decisions_policy_id", "decisions", ["policy", "id"])


def downgrade() -> None:
    op.drop_index("ix_decisions_policy_id", "decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("hetu_checks")
