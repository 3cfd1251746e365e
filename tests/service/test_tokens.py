"""Tokens: stored only as a hash, verified, revoked, cached briefly (service/tokens.py)."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from service.database import make_engine
from service.tokens import TokenStore, valid_business_id


@pytest.fixture
def store(sqlite_url) -> TokenStore:
    return TokenStore(make_engine(sqlite_url))


def test_only_the_hash_is_stored(store):
    token, principal = store.create("provider", "1234567-1", "Kuntoutus Oy")
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM tokens")).all()
    assert token not in repr(rows)
    assert rows[0].secret_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(f"rr_{principal.token_id}_")
    assert store.verify(token) == principal
    assert principal.provider_id == "1234567-1" and principal.role == "provider"


def test_unknown_and_revoked_tokens_fail(store):
    token, principal = store.create("auditor")
    assert store.verify(token + "x") is None
    assert store.verify(token + "\udc80") is None        # a lone surrogate: no token, no 500
    assert store.revoke(principal.token_id)
    assert store.verify(token) is None
    assert not store.revoke(principal.token_id)          # already revoked
    assert store.list()[0].revoked_at is not None


def test_cache_keeps_a_token_alive_for_its_ttl_only(sqlite_url):
    cached = TokenStore(make_engine(sqlite_url), cache_seconds=60)
    cli = TokenStore(make_engine(sqlite_url))           # another process, e.g. the CLI
    token, principal = cli.create("planner")
    assert cached.verify(token) == principal
    cli.revoke(principal.token_id)
    assert cached.verify(token) == principal            # within the TTL
    cached.cache_seconds = 0
    cached._cache.clear()
    assert cached.verify(token) is None


@pytest.mark.parametrize(("role", "provider_id", "message"), [
    ("provider", None, "needs --provider-id"),
    ("provider", "1234567-2", "not a valid Y-tunnus"),
    ("auditor", "1234567-1", "only provider tokens"),
    ("admin", None, "role must be"),
])
def test_bad_token_requests_are_refused(store, role, provider_id, message):
    with pytest.raises(ValueError, match=message):
        store.create(role, provider_id)


@pytest.mark.parametrize(("code", "valid"), [
    ("1234567-1", True), ("7654321-2", True), ("0737546-2", True),
    ("1234567-2", False), ("123456-1", False), ("12345678", False), ("abcdefg-1", False),
])
def test_business_id_check_digit(code, valid):
    assert valid_business_id(code) is valid


def test_live_names_a_token_by_its_id_until_it_is_revoked(sqlite_url):
    """What a signed-in explorer session asks: never cached, so a revocation ends it at once
    even where ``verify`` would still remember the token."""
    store = TokenStore(make_engine(sqlite_url), cache_seconds=60)
    token, principal = store.create("provider", "1234567-1", "A")
    assert store.verify(token) == principal
    assert store.live(principal.token_id) == principal
    assert store.live("000000000000") is None
    TokenStore(make_engine(sqlite_url)).revoke(principal.token_id)     # another process
    assert store.verify(token) == principal                            # still cached here
    assert store.live(principal.token_id) is None
