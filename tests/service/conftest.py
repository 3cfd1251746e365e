"""Fixtures for the service tests: a tiny policy set in tmp_path, databases, app, tokens.

The tests do not depend on the real ``policies/`` folder: ``policies_dir`` writes two
versions of a small policy that has a personal identity code fact. Log tests run on SQLite
and on PostgreSQL (``DATABASE_URL_TEST`` or ``postgres@127.0.0.1:5432/test``), each test run
in its own schema; without a server they are skipped, except in CI where they must run.
"""

from __future__ import annotations

import gc
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from service import create_app
from service.database import make_engine, upgrade
from service.tokens import TokenStore

PROVIDER_A = "1234567-1"
PROVIDER_B = "7654321-2"
HETU = "131052-308T"          # the example code of the Population Register Centre
PG_URL = os.environ.get("DATABASE_URL_TEST",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")

VERSION_1 = """\
policy: tiny
version: "2025-01"
effective_from: 2025-01-01
title: {fi: Pieni, sv: Liten, en: Tiny}
source: {document: Testikuvaus}
parameters:
  min_hours: 6
actions:
  day:
    title: {fi: Päivä, sv: Dag, en: Day}
    facts:
      hours: {type: number, min: 0, max: 24}
      client: {type: hetu, optional: true}
      note: {type: string, optional: true}
rules:
  - id: TS-1-too-short
    action: day
    when: hours < min_hours
    effect: deny
    cite: {seed: "000", section: "1"}
    message:
      fi: "Liian lyhyt päivä: {hours} h < {min_hours} h"
      sv: "För kort dag: {hours} h < {min_hours} h"
      en: "Day too short: {hours} h < {min_hours} h"
  - id: TS-2-note
    action: day
    when: note is present
    effect: info
    cite: {seed: "000", section: "2"}
    message:
      fi: "Huomautus: {note}"
      sv: "Anmärkning: {note}"
      en: "Note: {note}"
"""

# 2025-06: the minimum drops to 5 h, TS-2 goes, TS-3 arrives.
VERSION_2 = VERSION_1.split("  - id: TS-2-note")[0].replace(
    'version: "2025-01"', 'version: "2025-06"').replace(
    "effective_from: 2025-01-01", "effective_from: 2025-06-01").replace(
    "min_hours: 6", "min_hours: 5") + """\
  - id: TS-3-long
    action: day
    when: hours > 10
    effect: warn
    cite: {seed: "000", section: "3"}
    message: {fi: "Pitkä päivä", sv: "Lång dag", en: "Long day"}
"""


# Fixture cases of the tiny policy that cover every rule of both versions both ways, as
# publishing asks of a policy with cases (engine/check.py).
CASES_2025_01 = """\
cases:
  - name: a short day
    action: day
    as_of: 2025-03-10
    facts: {hours: 5}
    expect: {outcome: deny, fired: [TS-1-too-short]}
  - name: a full day with a note
    action: day
    as_of: 2025-03-10
    facts: {hours: 7, note: hello}
    expect: {outcome: allow, fired: [TS-2-note]}
"""
CASES_2025_06 = """\
cases:
  - name: a short day under 5 hours
    action: day
    as_of: 2025-07-01
    facts: {hours: 4}
    expect: {outcome: deny, fired: [TS-1-too-short]}
  - name: a long day
    action: day
    as_of: 2025-07-01
    facts: {hours: 11}
    expect: {outcome: allow, fired: [TS-3-long]}
"""


def write_cases(root: Path, versions: tuple[str, ...] = ("2025-01", "2025-06")) -> Path:
    """The tiny policy's fixture cases under ``root`` (``fixtures/``), one file a version."""
    texts = {"2025-01": CASES_2025_01, "2025-06": CASES_2025_06}
    for version in versions:
        folder = root / "tiny" / version
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "day.yaml").write_text(texts[version], encoding="utf-8")
    return root


def write_policies(root: Path) -> Path:
    folder = root / "tiny"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "2025-01.yaml").write_text(VERSION_1, encoding="utf-8")
    (folder / "2025-06.yaml").write_text(VERSION_2, encoding="utf-8")
    return root


@pytest.fixture
def policies_dir(tmp_path: Path) -> Path:
    return write_policies(tmp_path / "policies")


# --- databases --------------------------------------------------------------------------

def _postgres_available() -> bool:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def _worker_database(url: str) -> str:
    """Under pytest-xdist (``make test`` runs two workers) each worker works in a database
    of its own, ``<database>_<worker>``, made on first use and kept for the next run: an
    activation's ``NOTIFY`` reaches every listener of a database whatever its schema, so in
    one shared database one worker's publish would wake the other worker's instances."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 10})
    try:
        for attempt in range(10):
            with admin.connect() as conn:
                if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                {"name": name}).first():
                    break
                try:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                    break
                except DBAPIError:
                    # the other worker was copying template1 at the same moment, or made
                    # this very name: look again shortly
                    if attempt == 9:
                        raise
            time.sleep(0.5)
    finally:
        admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A schema of its own for this test run, migrated to head; dropped at the end."""
    if not _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but PostgreSQL does not answer at {PG_URL}")
        pytest.skip(f"no PostgreSQL at {PG_URL}")
    base = _worker_database(PG_URL)
    schema = f"rr_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    upgrade(url)
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _clean(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM decisions"))
        conn.execute(text("DELETE FROM idempotency_keys"))
        conn.execute(text("DELETE FROM tokens"))
        conn.execute(text("DELETE FROM bundle_activations"))
        conn.execute(text("DELETE FROM policy_bundles"))
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per run: Alembic reads its migration scripts anew
    on every upgrade, which cost each test a third of its set-up."""
    path = tmp_path_factory.mktemp("migrated") / "log.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    # the WAL folded into the file (which stays in WAL mode): the file alone is the database
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    """A database of this test's own: a copy of the migrated file, as ``upgrade`` leaves it."""
    path = tmp_path / "var" / "log.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    url = request.getfixturevalue("postgres_url")
    _clean(url)
    yield url
    # the test's apps are garbage now (Flask's reference cycles): collected here, their
    # pooled connections close instead of piling up towards max_connections (100)
    gc.collect()


# --- app, client, tokens ----------------------------------------------------------------

def make_app(policies: Path, url: str, var: Path):
    app = create_app({
        "TESTING": True,
        "POLICIES_DIR": str(policies),
        "DATABASE_URL": url,
        "VAR_DIR": str(var),
        "REHAB_RULES_HASH_KEY": "test-key",
        "LOG_LEVEL": "INFO",
        "POLICIES_BOOTSTRAP": True,       # the first app on a fresh database publishes
        "BUNDLE_CHECK_SECONDS": 0,        # follow another app's activation at once
    })
    # No LISTEN thread for an app inside the test process: it would hold a connection and
    # keep the app alive to the end of the run (one of each per PostgreSQL test, too many
    # for the server with two workers), and every later activation in the database would
    # wake it. BUNDLE_CHECK_SECONDS=0 follows activations anyway; the real gunicorn
    # instances (test_bundles_gunicorn.py) keep their listeners.
    app.extensions["rehab_rules"].policies._listen = False
    return app


@pytest.fixture
def app(policies_dir: Path, sqlite_url: str, tmp_path: Path):
    return make_app(policies_dir, sqlite_url, tmp_path / "var")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def any_app(policies_dir: Path, any_db_url: str, tmp_path: Path):
    """The app on SQLite and on PostgreSQL."""
    return make_app(policies_dir, any_db_url, tmp_path / "var")


class Tokens:
    """One live token per role (two providers), as ready-made headers."""

    def __init__(self, store: TokenStore):
        self.store = store
        self.raw = {
            "provider": store.create("provider", PROVIDER_A, "A")[0],
            "provider_b": store.create("provider", PROVIDER_B, "B")[0],
            "planner": store.create("planner", None, "planner")[0],
            "auditor": store.create("auditor", None, "auditor")[0],
            "ops": store.create("ops", None, "monitoring")[0],
        }

    def __getitem__(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.raw[who]}"}


@pytest.fixture
def tokens(app) -> Tokens:
    return Tokens(app.extensions["rehab_rules"].tokens)


def decision_body(**overrides) -> dict:
    body = {"policy": "tiny", "action": "day", "as_of": "2025-03-10",
            "facts": {"hours": 5}}
    body.update(overrides)
    return body
