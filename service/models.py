"""The two tables the service owns: the decision log and the API tokens.

Columns are portable between SQLite and PostgreSQL (text ids, generic JSON); the Alembic
migrations in ``service/migrations`` create them, never ``create_all``.
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

__all__ = ["ActivationRow", "Base", "BundleRow", "DecisionRow", "IdempotencyRow", "TokenRow"]


class Base(DeclarativeBase):
    pass


class DecisionRow(Base):
    """One evaluated request. ``facts`` and every text in ``findings`` are masked."""

    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)   # UUIDv7: sorts by time
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
    findings: Mapped[dict[str, Any]] = mapped_column(JSON)
    latency_ms: Mapped[float] = mapped_column(Float)
    bundle_id: Mapped[int | None] = mapped_column(Integer)   # the policy bundle it used
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
