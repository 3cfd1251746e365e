"""Configuration: defaults, overridden by the environment, overridden by ``create_app(config)``.

Only a handful of settings exist, and each has a default that works on a laptop:

=========================  ==============================  =====================================
key (environment variable)  default                         what
=========================  ==============================  =====================================
POLICIES_DIR               ``policies``                    folder of policy YAML files
DATABASE_URL               ``sqlite:///VAR_DIR/rehab-rules.db``  decision log and tokens
REHAB_RULES_HASH_KEY       generated into ``var/hash.key``   HMAC key for personal identity codes
VAR_DIR                    ``var``                         local state (SQLite file, key, stamp)
MAX_CONTENT_LENGTH         1 MiB                           larger bodies get 413
LOG_LEVEL                  ``INFO``                        level of the ``service`` loggers
TOKEN_CACHE_SECONDS        ``5``                           a revoked token dies within this time
METRICS_OPEN_ON_LOOPBACK   ``1``                           ``/metrics`` needs no token from 127/8
POLICIES_BOOTSTRAP         ``1`` on SQLite, else ``0``     publish POLICIES_DIR if no bundle yet
BUNDLE_CHECK_SECONDS       ``2``                           how often a worker looks for a newer
                                                           active bundle (PostgreSQL also
                                                           listens)
FIXTURES_DIR               ``fixtures`` beside POLICIES_DIR  fixture cases bootstrap and reload
                                                           publish with POLICIES_DIR (the
                                                           explorer shows the bundle's)
EXPLORER_OPEN              ``1``                           ``/explorer`` pages need no token
                                                           (``0``: any role's token)
EXPLORER_TRY_OPEN_ON_LOOPBACK ``1``                        "try it" needs no token from 127/8
EXPLORER_SESSION_SECONDS   ``28800`` (8 hours)             how long a sign-in to the explorer
                                                           lasts (its signed cookie)
IMPACT_MAX_ROWS            ``100000``                      most logged decisions one
                                                           ``POST …/impact`` replays
IDEMPOTENCY_SECONDS        ``86400``                       how long an ``Idempotency-Key``
                                                           and its answer are kept
=========================  ==============================  =====================================

The default SQLite file lives in ``VAR_DIR``: two servers started in one folder with different
``VAR_DIR`` must not share one database (and one token table) without anyone having asked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DEFAULTS", "ENV_KEYS", "load_config", "sqlite_url"]

DEFAULTS: dict[str, Any] = {
    "POLICIES_DIR": "policies",
    "DATABASE_URL": None,     # unset: sqlite_url(VAR_DIR), see load_config
    "REHAB_RULES_HASH_KEY": None,
    "VAR_DIR": "var",
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "LOG_LEVEL": "INFO",
    "TOKEN_CACHE_SECONDS": 5,
    "METRICS_OPEN_ON_LOOPBACK": True,
    "POLICIES_BOOTSTRAP": None,          # None: on for SQLite, off for other databases
    "BUNDLE_CHECK_SECONDS": 2.0,
    "FIXTURES_DIR": None,                # None: "fixtures" beside POLICIES_DIR
    "EXPLORER_OPEN": True,
    "EXPLORER_TRY_OPEN_ON_LOOPBACK": True,
    "EXPLORER_SESSION_SECONDS": 8 * 3600,
    "IMPACT_MAX_ROWS": 100_000,
    "IDEMPOTENCY_SECONDS": 86_400,
    # flask-smorest / OpenAPI
    "API_TITLE": "rehab-rules",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "JSON_SORT_KEYS": False,
}

ENV_KEYS = ("POLICIES_DIR", "DATABASE_URL", "REHAB_RULES_HASH_KEY", "VAR_DIR", "LOG_LEVEL",
            "TOKEN_CACHE_SECONDS", "METRICS_OPEN_ON_LOOPBACK", "POLICIES_BOOTSTRAP",
            "BUNDLE_CHECK_SECONDS", "FIXTURES_DIR", "EXPLORER_OPEN",
            "EXPLORER_TRY_OPEN_ON_LOOPBACK", "EXPLORER_SESSION_SECONDS", "IMPACT_MAX_ROWS",
            "IDEMPOTENCY_SECONDS")
_FLAGS = ("METRICS_OPEN_ON_LOOPBACK", "POLICIES_BOOTSTRAP", "EXPLORER_OPEN",
          "EXPLORER_TRY_OPEN_ON_LOOPBACK")
_FALSE = ("0", "false", "no", "off")


def load_config(overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings in force: defaults < environment < ``overrides``."""
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    config.update({k: environ[k] for k in ENV_KEYS if environ.get(k)})
    for key in _FLAGS:
        if isinstance(config[key], str):
            config[key] = config[key].strip().lower() not in _FALSE
    config.update(overrides or {})
    if not config.get("DATABASE_URL"):
        # after the overrides, so that create_app({"VAR_DIR": ...}) moves the file too
        config["DATABASE_URL"] = sqlite_url(config["VAR_DIR"])
    if not config.get("FIXTURES_DIR"):
        # beside the policies, as in the repository: policies/ and fixtures/ side by side
        config["FIXTURES_DIR"] = str(Path(config["POLICIES_DIR"]).parent / "fixtures")
    return config


def sqlite_url(var_dir: str | os.PathLike[str]) -> str:
    """The default database, ``rehab-rules.db`` in ``var_dir``: the file goes wherever the
    rest of the local state goes.

    >>> sqlite_url("var"), sqlite_url("/srv/rr")
    ('sqlite:///var/rehab-rules.db', 'sqlite:////srv/rr/rehab-rules.db')
    """
    return f"sqlite:///{(Path(var_dir) / 'rehab-rules.db').as_posix()}"
