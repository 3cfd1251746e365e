"""Idempotent retries of the decision endpoints: ``Idempotency-Key``.

A client that sent ``POST /v1/decisions`` (or ``/batch``) and got no answer — a timeout, a
dropped connection, a worker killed between the commit and the answer — cannot know whether
its decisions were logged. Sent again with the same ``Idempotency-Key`` and the same body,
the request is answered exactly as the first time and logs nothing new; the same key with
another body is a 409. Keys are per token and kept for ``IDEMPOTENCY_SECONDS`` (a day).

Exactly once: the row of a key (:class:`service.models.IdempotencyRow`) is inserted in the
transaction that logs the request's decisions, before them. Of two requests with one key,
only one commits; the other meets the key (the primary key refuses it), rolls back — none
of its decisions is logged — and answers what the first stored.

Nothing personal in clear: the answer quotes the request's facts, so it is stored encrypted
(AES-GCM) under a key derived from the service's HMAC key *and the request body*: only a
retry that sends the body again can read it. The key itself is stored as its HMAC (a client
may put anything in it), the body as an HMAC fingerprint.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, delete, select

from service.errors import InvalidRequest, ServiceError
from service.models import IdempotencyRow

__all__ = ["HEADER", "MAX_KEY_LENGTH", "Claim", "Idempotency", "IdempotencyKeyReused",
           "KeyTaken", "Replay"]

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(ServiceError):
    """409: the key was used before, by this token, with another body."""

    status, code = 409, "idempotency_key_reused"


class KeyTaken(Exception):
    """The key's row exists already: another request with this key committed first."""


@dataclass(frozen=True)
class Claim:
    """One request's key, as stored and looked up: its HMACs and the answer's cipher key."""

    token_id: str
    key_hash: str
    fingerprint: str
    cipher_key: bytes


@dataclass(frozen=True)
class Replay:
    """The stored answer of an earlier request with the same key and body."""

    status: int
    body: bytes
    decision_ids: list[str]


class Idempotency:
    """Claims, stored answers and their expiry, in the ``idempotency_keys`` table."""

    def __init__(self, engine: Engine, secret: bytes, keep_seconds: float):
        if not secret:
            raise ValueError("the idempotency secret must not be empty")
        self.engine = engine
        self.keep_seconds = float(keep_seconds)
        self._secret = secret

    def claim(self, token_id: str, key: str, body: bytes) -> Claim:
        """The claim of ``key`` by ``token_id`` for a request with this body; a key that is
        empty, too long or not printable ASCII is the client's 422."""
        if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise InvalidRequest(f"invalid request: {HEADER}", {"fields": {HEADER: [
                f"1 to {MAX_KEY_LENGTH} printable ASCII characters (a UUID, say)"]}})
        key_hash = self._mac(b"key", token_id.encode(), key.encode())
        fingerprint = self._mac(b"body", token_id.encode(), key.encode(), body)
        cipher_key = hmac.new(self._secret, b"answer\0" + token_id.encode() + b"\0"
                              + key.encode() + b"\0" + body, hashlib.sha256).digest()
        return Claim(token_id, key_hash, fingerprint, cipher_key)

    def find(self, claim: Claim) -> Replay | None:
        """The stored answer of ``claim``'s key, or None if it has none (or it expired).

        Raises :class:`IdempotencyKeyReused` when the key was used with another body.
        """
        table = IdempotencyRow.__table__
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.token_id == claim.token_id,
                                                   table.c.key_hash == claim.key_hash)).first()
        if row is None:
            return None
        if _utc(row.expires_at) <= _now():
            self._forget(claim)
            return None
        if not hmac.compare_digest(row.fingerprint, claim.fingerprint):
            raise IdempotencyKeyReused(
                f"this {HEADER} was used with another request body; a retry must send the "
                "same body, a new request a new key", {"header": HEADER})
        return Replay(row.status, _open(claim.cipher_key, row.answer), list(row.decision_ids))

    def row(self, claim: Claim, status: int, body: bytes,
            decision_ids: list[str]) -> dict[str, Any]:
        """The values of ``claim``'s row, answering ``body``: for the log's transaction."""
        now = _now()
        return {"token_id": claim.token_id, "key_hash": claim.key_hash,
                "fingerprint": claim.fingerprint, "status": status,
                "answer": _seal(claim.cipher_key, body), "decision_ids": decision_ids,
                "created_at": now, "expires_at": now + dt.timedelta(seconds=self.keep_seconds)}

    def purge(self) -> int:
        """Forget every expired key; how many."""
        table = IdempotencyRow.__table__
        with self.engine.begin() as conn:
            return conn.execute(delete(table).where(table.c.expires_at <= _now())).rowcount

    def _forget(self, claim: Claim) -> None:
        table = IdempotencyRow.__table__
        with self.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.token_id == claim.token_id,
                                             table.c.key_hash == claim.key_hash,
                                             table.c.expires_at <= _now()))

    def _mac(self, *parts: bytes) -> str:
        return hmac.new(self._secret, b"\0".join(parts), hashlib.sha256).hexdigest()


def _seal(key: bytes, plain: bytes) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, None)).decode("ascii")


def _open(key: bytes, sealed: str) -> bytes:
    data = base64.b64decode(sealed)
    return AESGCM(key).decrypt(data[:12], data[12:], None)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
