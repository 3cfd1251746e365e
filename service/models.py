"""The tables the service owns: the decision log, the API tokens, the policy bundles and their
activations, and the idempotency keys.

Columns are portable between SQLite and PostgreSQL (text ids, generic JSON); the Alembic
migrations in ``service/migrations`` create them, never ``create_all``
(``tests/service/test_models.py`` compares the migrated database with these models).

:class:`DecisionRow` is the one declaration of a logged decision: the log entry, both
writers, the public form the API shows and the columns a replay reads are all derived from
it (:mod:`service.decision_log`, :mod:`service.replay`). A column whose name in the API
differs says so in its ``info["api"]``; ``findings`` is shown as one list per kind.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.model import FINDING_KINDS

__all__ = ["ActivationRow", "Base", "BundleRow", "DecisionRow", "IdempotencyRow", "TokenRow"]


class Base(DeclarativeBase):
    pass


class DecisionRow(Base):
    """One evaluated request. ``facts`` and every text in ``findings`` are masked."""

    __tablename__ = "decisions"

    # a UUIDv7: ids sort by time
    id: Mapped[str] = mapped_column(String(36), primary_key=True, info={"api": "decision_id"})
    time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    provider: Mapped[str | None] = mapped_column(String(32))
    token_id: Mapped[str] = mapped_column(String(32))
    policy: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(100))
    as_of: Mapped[dt.date] = mapped_column(Date)
    lang: Mapped[str] = mapped_column(String(2))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(8))
    fired: Mapped[list[str]] = mapped_column(JSON)
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    # {kind: [finding, …]} for each of FINDING_KINDS; the API shows one list per kind
    findings: Mapped[dict[str, Any]] = mapped_column(JSON, info={"api": FINDING_KINDS})
    latency_ms: Mapped[float] = mapped_column(Float)
    # the policy bundle it used
    bundle_id: Mapped[int | None] = mapped_column(Integer, info={"api": "bundle"})
    # the caller named the version (a what-if) instead of letting as_of pick it
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # per personal fact, what the policy could derive from the code: {"valid", "temporary"}
    # (migration 0004); a replay substitutes a synthetic code judged alike. None: logged before
    hetu_checks: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True),
                                                                nullable=True)

    __table_args__ = (
        Index("ix_decisions_bundle_id", "bundle_id", "id"),
        Index("ix_decisions_pinned", "pinned", "id"),
        Index("ix_decisions_time", "time"),
        Index("ix_decisions_provider_id", "provider", "id"),
        Index("ix_decisions_policy_action", "policy", "action"),
        Index("ix_decisions_policy_id", "policy", "id"),       # replays, newest first
    )


class TokenRow(Base):
    """An API token: only the sha256 of the secret is kept."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class BundleRow(Base):
    """A published policy set: every version file's text, validated whole; never changed."""

    __tablename__ = "policy_bundles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(80), unique=True)
    files: Mapped[dict[str, str]] = mapped_column(JSON)   # "<policy>/<version>.yaml" → text
    source: Mapped[str] = mapped_column(String(500))       # the folder it was published from
    note: Mapped[str | None] = mapped_column(Text)
    published_by: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ActivationRow(Base):
    """One switch of the live bundle; the newest row is the bundle every worker serves."""

    __tablename__ = "bundle_activations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("policy_bundles.id"))
    activated_by: Mapped[str] = mapped_column(String(200))
    activated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class IdempotencyRow(Base):
    """What one ``Idempotency-Key`` of one token was answered, until ``expires_at``.

    ``key_hash`` and ``fingerprint`` are HMACs (of the key, of the request body); ``answer``
    is the answer's JSON, encrypted (service/idempotency.py). Written in the transaction
    that logs the decisions it names.
    """

    __tablename__ = "idempotency_keys"

    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(Text)
    decision_ids: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)
