"""API tokens: created by the CLI, printed once, kept only as a sha256.

A token reads ``rr_<id>_<secret>``. The id is public (it is logged with every decision and
names the token in ``tokens list``/``revoke``); the secret is 32 random bytes, so a plain
sha256 is enough to store it — there is nothing to brute-force.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, select, update

from engine.functions import valid_ytunnus
from service.masking import Masker, scrub_text
from service.models import TokenRow

__all__ = ["ROLES", "Principal", "TokenStore", "valid_business_id"]

ROLES = ("provider", "planner", "auditor", "ops")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, role and, for a provider, its business id."""

    token_id: str
    role: str
    provider_id: str | None = None
    name: str | None = None


def valid_business_id(code: str) -> bool:
    """A Finnish business id (Y-tunnus) ``NNNNNNN-C`` with a correct check digit."""
    return valid_ytunnus(code)


def _hash(secret: str) -> str:
    # a header with a lone surrogate is no token, but must not become a 500
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class TokenStore:
    """Create, list, revoke and verify tokens in the ``tokens`` table.

    ``verify`` remembers a live token for ``cache_seconds``: a database round trip per
    request would cost more than the decision itself. So a token revoked from the CLI (another
    process) stops working within that time; 0 checks the table on every request.
    """

    def __init__(self, engine: Engine, cache_seconds: float = 0,
                 masker: Masker | None = None):
        self.engine = engine
        # a token's name is free text: a code in it is stored hashed (without a masker,
        # as <hetu>), like every other text the service keeps
        self._scrub = masker.scrub_revealed if masker is not None else scrub_text
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lookup = (
            select(TokenRow.id, TokenRow.role, TokenRow.provider_id, TokenRow.name)
            .where(TokenRow.secret_hash == bindparam("secret_hash"),
                   TokenRow.revoked_at.is_(None))
        )

    def create(self, role: str, provider_id: str | None = None,
               name: str | None = None) -> tuple[str, Principal]:
        """A new token; the returned text is the only time the secret exists in clear."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if role == "provider" and not provider_id:
            raise ValueError("a provider token needs --provider-id (the provider's Y-tunnus)")
        if provider_id and not valid_business_id(provider_id):
            raise ValueError(f"{provider_id!r} is not a valid Y-tunnus (NNNNNNN-C)")
        if role != "provider" and provider_id:
            raise ValueError("only provider tokens carry a provider id")
        name = self._scrub(name) if name else name
        token_id = secrets.token_hex(6)
        token = f"rr_{token_id}_{secrets.token_urlsafe(32)}"
        with self.engine.begin() as conn:
            conn.execute(TokenRow.__table__.insert().values(
                id=token_id, secret_hash=_hash(token), role=role, provider_id=provider_id,
                name=name, created_at=dt.datetime.now(dt.UTC), revoked_at=None))
        return token, Principal(token_id, role, provider_id, name)

    def verify(self, token: str) -> Principal | None:
        """The principal of a live token, or None for anything unknown or revoked."""
        secret_hash = _hash(token)
        now = time.monotonic()
        cached = self._cache.get(secret_hash)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.engine.connect() as conn:
            row = conn.execute(self._lookup, {"secret_hash": secret_hash}).first()
        if row is None:
            self._cache.pop(secret_hash, None)
            return None
        principal = Principal(row.id, row.role, row.provider_id, row.name)
        if self.cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[secret_hash] = (now + self.cache_seconds, principal)
        return principal

    def live(self, token_id: str) -> Principal | None:
        """The principal of the live token with this id, or None once it is revoked (or for
        an unknown id): what a signed-in explorer session asks on every page, so revoking the
        token ends the session at once. Read from the table, never from the cache."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(TokenRow.id, TokenRow.role, TokenRow.provider_id, TokenRow.name)
                .where(TokenRow.id == token_id, TokenRow.revoked_at.is_(None))).first()
        return None if row is None else Principal(row.id, row.role, row.provider_id, row.name)

    def list(self) -> list[TokenRow]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(TokenRow).order_by(TokenRow.created_at)).all())

    def revoke(self, token_id: str) -> bool:
        """Revoke by id; False if no live token has that id."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(TokenRow)
                .where(TokenRow.id == token_id, TokenRow.revoked_at.is_(None))
                .values(revoked_at=dt.datetime.now(dt.UTC)))
        self._cache = {h: c for h, c in self._cache.items() if c[1].token_id != token_id}
        return result.rowcount == 1
