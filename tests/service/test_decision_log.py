"""The decision log on SQLite and on PostgreSQL (service/decision_log.py, migrations)."""

from __future__ import annotations

import base64
import datetime as dt
import sqlite3

import psycopg
import pytest
from sqlalchemy import exc, inspect, text

from engine.store import load_folder
from service.database import make_engine
from service.decision_log import BadCursor, DecisionLog, LogEntry, decode_cursor, encode_cursor
from service.ids import new_decision_id
from tests.service.conftest import write_policies

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def entry(n: int, **overrides) -> LogEntry:
    values = dict(
        id=new_decision_id(), time=T0 + dt.timedelta(minutes=n), provider="1234567-1",
        token_id="tok", policy="tiny", version="2025-01", digest="sha256:ab", action="day",
        as_of=dt.date(2025, 3, 10), lang="fi", facts={"hours": n, "nested": {"a": [1, 2]}},
        outcome="deny" if n % 2 else "allow", fired=["TS-1"] if n % 2 else [],
        results={"due": "2025-04-01"}, findings={"violations": [{"rule": "TS-1"}]},
        latency_ms=0.5,
    )
    values.update(overrides)
    return LogEntry(**values)


@pytest.fixture
def log(any_db_url: str) -> DecisionLog:
    return DecisionLog(make_engine(any_db_url))


def test_migration_creates_both_tables_with_their_columns(any_db_url):
    inspector = inspect(make_engine(any_db_url))
    columns = {c["name"] for c in inspector.get_columns("decisions")}
    assert columns == {"id", "time", "provider", "token_id", "policy", "version", "digest",
                       "action", "as_of", "lang", "facts", "outcome", "fired", "results",
                       "findings", "latency_ms", "bundle_id", "pinned", "hetu_checks"}
    pinned = next(c for c in inspector.get_columns("decisions") if c["name"] == "pinned")
    assert pinned["nullable"] is False and pinned["default"] is not None
    assert "ix_decisions_pinned" in {i["name"] for i in inspector.get_indexes("decisions")}
    assert {"id", "digest", "files"} <= {c["name"] for c in inspector.get_columns(
        "policy_bundles")}
    assert "secret_hash" in {c["name"] for c in inspector.get_columns("tokens")}


def test_record_and_get_round_trip(log):
    stored = entry(1)
    log.record(stored)
    row = log.get(stored.id)
    assert row["decision_id"] == stored.id
    assert dt.datetime.fromisoformat(row["time"]) == stored.time
    assert row["as_of"] == "2025-03-10"
    assert row["facts"] == {"hours": 1, "nested": {"a": [1, 2]}}
    assert row["fired"] == ["TS-1"] and row["results"] == {"due": "2025-04-01"}
    assert row["violations"] == [{"rule": "TS-1"}] and row["warnings"] == []
    assert log.get(new_decision_id()) is None


def test_pinned_is_stored_and_filtered(log):
    entries = [entry(0), entry(1, pinned=True, version="2024-06"), entry(2, pinned=True)]
    for e in entries:
        log.record(e)
    assert [log.get(e.id)["pinned"] for e in entries] == [False, True, True]
    ids = lambda page: [d["decision_id"] for d in page.items]  # noqa: E731
    assert ids(log.list(limit=50, pinned=True)) == [entries[2].id, entries[1].id]
    assert ids(log.list(limit=50, pinned=False)) == [entries[0].id]
    assert ids(log.list(limit=50, version="2024-06")) == [entries[1].id]
    assert ids(log.list(limit=50, version="2025-01", pinned=True)) == [entries[2].id]


def test_rows_from_before_0003_read_as_not_pinned(any_db_url):
    """Down to 0002 and up again: rows logged before the column existed read pinned false."""
    from alembic import command
    from sqlalchemy import text

    from service.database import alembic_config, upgrade

    engine = make_engine(any_db_url)
    old = entry(0)
    command.downgrade(alembic_config(engine), "0002")
    try:
        assert "pinned" not in {c["name"] for c in inspect(engine).get_columns("decisions")}
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO decisions (id, time, provider, token_id, policy, version, digest,"
                " action, as_of, lang, facts, outcome, fired, results, findings, latency_ms) "
                "VALUES (:id, :time, 'p', 't', 'tiny', '2025-01', 'd', 'day', :as_of, 'fi', "
                "'{}', 'allow', '[]', '{}', '{}', 0.5)"),
                {"id": old.id, "time": old.time, "as_of": old.as_of})
    finally:
        upgrade(engine)
    log = DecisionLog(engine)
    assert log.get(old.id)["pinned"] is False
    assert [d["decision_id"] for d in log.list(limit=5, pinned=False).items] == [old.id]


def test_list_filters(log):
    entries = [entry(n) for n in range(6)]
    entries.append(entry(6, provider="7654321-2", policy="other", action="other"))
    for e in entries:
        log.record(e)
    ids = lambda page: [d["decision_id"] for d in page.items]  # noqa: E731
    assert ids(log.list(limit=50)) == [e.id for e in reversed(entries)]
    assert ids(log.list(limit=50, outcome="deny")) == [entries[5].id, entries[3].id,
                                                        entries[1].id]
    assert ids(log.list(limit=50, policy="other", action="other")) == [entries[6].id]
    assert len(log.list(limit=50, provider="1234567-1", restrict_provider=True).items) == 6
    assert log.list(limit=50, provider=None, restrict_provider=True).items == []
    window = log.list(limit=50, since=T0 + dt.timedelta(minutes=2),
                      until=T0 + dt.timedelta(minutes=4))
    assert ids(window) == [entries[3].id, entries[2].id]
    helsinki = dt.timezone(dt.timedelta(hours=2))
    same = log.list(limit=50, since=(T0 + dt.timedelta(minutes=2)).astimezone(helsinki),
                    until=(T0 + dt.timedelta(minutes=4)).astimezone(helsinki))
    assert ids(same) == ids(window)


def test_paging_visits_every_row_once(log):
    entries = [entry(n) for n in range(7)]
    for e in entries:
        log.record(e)
    seen, cursor = [], None
    pages = 0
    while True:
        page = log.list(limit=3, cursor=cursor)
        seen += [d["decision_id"] for d in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert seen == [e.id for e in reversed(entries)]
    assert log.count() == 7


def test_cursor_is_opaque_and_checked():
    decision_id = new_decision_id()
    assert decode_cursor(encode_cursor(decision_id)) == decision_id
    legacy = base64.urlsafe_b64encode(decision_id.encode()).decode().rstrip("=")
    assert decode_cursor(legacy) == decision_id          # a cursor of an earlier release
    assert encode_cursor(decision_id) == decision_id.replace("-", "")
    not_a_uuid = base64.urlsafe_b64encode(b"not-a-uuid").decode()
    for bad in ("", "!!", not_a_uuid, "YWJj", "0" * 31, "g" * 32):
        with pytest.raises(BadCursor):
            decode_cursor(bad)


def test_hetu_checks_round_trip_and_null_before_0004(any_db_url):
    """Stored beside the hashed facts; rows logged before migration 0004 read None."""
    from alembic import command
    from sqlalchemy import text

    from service.database import alembic_config, upgrade

    engine = make_engine(any_db_url)
    log = DecisionLog(engine)
    checks = {"client": {"valid": True, "temporary": False}, "blank": None}
    new, plain = entry(1, hetu_checks=checks), entry(2)
    log.record(new)
    log.record(plain)
    assert log.get(new.id)["hetu_checks"] == checks
    assert log.get(plain.id)["hetu_checks"] is None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM decisions WHERE hetu_checks IS NULL")
                            ).scalar_one() == 1            # SQL NULL, not JSON null
    command.downgrade(alembic_config(engine), "0003")
    try:
        assert "hetu_checks" not in {c["name"] for c in inspect(engine).get_columns("decisions")}
    finally:
        upgrade(engine)
    assert log.get(new.id)["hetu_checks"] is None


def test_digest_and_fired_filters(log):
    entries = [entry(0, fired=["CR-1-a", "CR-10"]), entry(1, fired=["CR-1"], digest="sha256:cd"),
               entry(2, fired=["cr-1"]), entry(3, fired=[])]
    for e in entries:
        log.record(e)
    ids = lambda page: [d["decision_id"] for d in page.items]  # noqa: E731
    assert ids(log.list(limit=50, fired="CR-1")) == [entries[1].id]     # exact, case too
    assert ids(log.list(limit=50, fired="CR-1-a")) == [entries[0].id]
    assert ids(log.list(limit=50, fired="CR-10")) == [entries[0].id]
    assert ids(log.list(limit=50, digest="sha256:cd")) == [entries[1].id]
    assert log.count(fired="CR-1", digest="sha256:cd") == 1
    with pytest.raises(ValueError):
        log.list(limit=50, fired='CR-1" OR 1=1')


def test_scan_reads_every_matching_row_in_batches(log):
    entries = [entry(n) for n in range(7)] + [entry(7, policy="other")]
    for e in entries:
        log.record(e)
    batches = list(log.scan(batch=3, policy="tiny"))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [r["id"] for b in batches for r in b] == [e.id for e in reversed(entries[:7])]
    assert [len(b) for b in log.scan(batch=3, limit=4, policy="tiny")] == [3, 1]
    assert log.count(policy="tiny", since=T0 + dt.timedelta(minutes=5)) == 2


def test_a_batch_is_logged_whole_or_not_at_all(log):
    """The same id twice: refused by the primary key, and nothing of the batch is kept."""
    first, second = entry(0), entry(1)
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError, exc.IntegrityError)):
        log.record_many([first, second, first])
    assert log.count() == 0
    log.record_many([first, second])     # the writer is usable again afterwards
    assert log.count() == 2


def _write_in_child(url: str, n: int) -> None:
    log = DecisionLog(make_engine(url))
    for i in range(n):
        log.record(entry(i))


def _write_with_inherited_log(log: DecisionLog, n: int) -> None:
    for i in range(n):
        log.record(entry(i))


@pytest.mark.slow
def test_sqlite_writer_stores_what_sqlalchemy_would(sqlite_url, tmp_path):
    """The file writer's rows (service/decision_log.py ``_sqlite_row``) hold the very values
    SQLAlchemy writes for the same entry: UTC times (the service's), dates, JSON and NULLs
    alike."""
    import json
    import shutil

    from sqlalchemy import JSON

    from service.decision_log import COLUMNS
    from service.models import DecisionRow

    JSON_COLUMNS = {c.name for c in DecisionRow.__table__.columns if isinstance(c.type, JSON)}

    entries = [entry(1, time=dt.datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=dt.UTC)),
               entry(2, time=dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC),
                     hetu_checks={"hetu": {"valid": True}}, pinned=True, bundle_id=3),
               entry(3, time=dt.datetime(2026, 3, 4, 5, 6, 7), provider=None,
                     facts={"name": "Äö €", "x": None})]
    copy = tmp_path / "sqlalchemy.db"
    shutil.copy(sqlite_url.removeprefix("sqlite:///"), copy)
    DecisionLog(make_engine(sqlite_url)).record_many(entries)
    with make_engine(f"sqlite:///{copy}").begin() as conn:
        conn.execute(DecisionRow.__table__.insert(), [
            {c.name: getattr(e, c.name) for c in DecisionRow.__table__.columns}
            for e in entries])

    def stored(path: str) -> list[tuple]:
        """Each row's values; JSON decoded (the writer keeps "Ä" as it is, SQLAlchemy
        escapes it: the same JSON)."""
        with sqlite3.connect(path) as raw:
            rows = raw.execute(f"SELECT {', '.join(COLUMNS)} FROM decisions ORDER BY id")
            return [tuple(json.loads(v) if c in JSON_COLUMNS and v is not None else v
                          for c, v in zip(COLUMNS, row, strict=True)) for row in rows]

    fast = stored(sqlite_url.removeprefix("sqlite:///"))
    assert len(fast) == 3 and fast == stored(str(copy))
    assert fast[1][1] == "2026-03-04 05:06:07.000000"


def test_sqlite_writers_in_several_processes_all_commit(sqlite_url, tmp_path):
    """gunicorn forks its workers: each opens its own connection and lock file handle, also
    when it inherits a log that already wrote (a connection used across a fork is not safe
    and a shared lock file handle would lock nothing)."""
    import multiprocessing

    log = DecisionLog(make_engine(sqlite_url))
    log.record(entry(0))                 # this process's connection exists before the fork
    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=_write_with_inherited_log, args=(log, 60))
                for _ in range(2)]
    children += [fork.Process(target=_write_in_child, args=(sqlite_url, 60))]
    for child in children:
        child.start()
    try:
        for child in children:
            child.join(timeout=60)
        assert [child.exitcode for child in children] == [0, 0, 0]
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
                child.join()
    log.record(entry(1))
    assert log.count() == 2 + 3 * 60
    assert (tmp_path / "var" / "log.db-writer.lock").exists()


@pytest.mark.postgres
def test_postgres_batch_rows_hold_what_sqlalchemy_would_store(postgres_url):
    """A batch goes in by COPY (service/decision_log.py ``_PostgresWriter``), a single row by
    a prepared INSERT: both hold the very values SQLAlchemy writes for the same entries
    (times with their zone, dates, JSON, NULLs, booleans, non-ASCII text)."""
    from service.models import DecisionRow
    from tests.service.conftest import _clean

    table = DecisionRow.__table__
    entries = [entry(1, time=dt.datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=dt.UTC)),
               entry(2, hetu_checks={"hetu": {"valid": True}}, pinned=True, bundle_id=None),
               entry(3, provider=None, facts={"name": "Äö € \\ \t \"q\"", "x": None},
                     results=[], findings={})]
    engine = make_engine(postgres_url)

    def stored() -> list[tuple]:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(table.select().order_by(table.c.id))]

    single = entry(4, as_of=dt.date(2024, 12, 31), lang="sv")
    _clean(postgres_url)
    log = DecisionLog(engine)
    log.record_many(entries)                                  # COPY
    log.record(single)                                        # a prepared INSERT
    written = stored()
    _clean(postgres_url)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{c.name: getattr(e, c.name) for c in table.columns}
                                      for e in [*entries, single]])
    assert len(written) == 4 and written == stored()


@pytest.mark.postgres
def test_postgres_writer_reconnects_when_the_server_dropped_its_connection(postgres_url):
    from tests.service.conftest import _clean

    _clean(postgres_url)
    engine = make_engine(postgres_url)
    log = DecisionLog(engine)
    log.record(entry(0))
    backend = log._writer._conn.info.backend_pid
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    log.record(entry(1))                 # the idle connection is gone: a new one, once
    assert log.count() == 2
    assert log._writer._conn.info.backend_pid != backend


@pytest.mark.postgres
def test_postgres_writer_counts_a_commit_whose_answer_it_lost(postgres_url, monkeypatch):
    """The connection broke after the server committed: the second attempt meets the ids
    already logged and is done, instead of failing a decision that was logged."""
    from tests.service.conftest import _clean

    _clean(postgres_url)
    log = DecisionLog(make_engine(postgres_url))
    log.record(entry(0))
    writer = log._writer
    real = type(writer)._write
    calls = []

    def commit_then_break(self, rows, key_row=None):
        calls.append(len(rows))
        real(self, rows, key_row)
        if len(calls) == 1:
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(type(writer), "_write", commit_then_break)
    batch = [entry(1), entry(2)]
    log.record_many(batch)
    assert calls == [2, 2] and log.count() == 3
    calls.clear()
    with pytest.raises(psycopg.IntegrityError):      # a real duplicate is still refused
        log.record_many([entry(3), batch[0]])


def test_sqlite_writer_checkpoints_the_wal_itself_after_the_commit(sqlite_url, tmp_path,
                                                                   caplog):
    """SQLite's own checkpoint is off for the writer, whose checkpointer thread runs one
    every CHECKPOINT_EVERY commits: the WAL stays small; a failed checkpoint is logged, the
    rows stay logged."""
    from service.decision_log import CHECKPOINT_EVERY, _Checkpointer

    log = DecisionLog(make_engine(sqlite_url))
    rows = 8 * CHECKPOINT_EVERY
    for i in range(rows):
        log.record(entry(i))
        if (i + 1) % CHECKPOINT_EVERY == 0:
            # the thread's checkpoint, before the next commit: in service it runs beside
            # the writers (a test of its own below)
            assert log._writer.wait_checkpointed(60)
    wal = tmp_path / "var" / "log.db-wal"
    # unchecked, each commit adds its pages (a dozen or so, 4 KiB each) to the WAL
    assert wal.stat().st_size < rows * 4096 * 4 / 3
    assert log.count() == rows
    broken = _Checkpointer(str(tmp_path / "missing" / "log.db"))   # cannot be opened
    with caplog.at_level("WARNING", logger="service.decision_log"):
        broken.checkpoint()
    assert "checkpoint failed" in caplog.text


def test_sqlite_checkpointer_copies_the_rest_under_the_writers_lock_past_the_limit(tmp_path):
    """Writers that never pause let a PASSIVE checkpoint copy all but the last frames, so
    SQLite would never start the WAL anew: past WAL_FRAMES_LIMIT frames the checkpointer
    runs once more holding the writers' lock file (no writer appends meanwhile), and below
    the limit it never takes that lock."""
    import fcntl
    import os

    from service.decision_log import WAL_FRAMES_LIMIT, _Checkpointer

    path = str(tmp_path / "log.db")
    checkpointer = _Checkpointer(path)
    probe = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)

    def lock_is_held() -> bool:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False

    class Connection:
        """Answers the first checkpoint with ``first`` and records each call."""

        def __init__(self, first):
            self.first, self.calls = first, []

        def execute(self, sql):
            self.calls.append((sql, lock_is_held()))
            answer = self.first if len(self.calls) == 1 else (0, 0, 0)
            return type("Cursor", (), {"fetchone": lambda _: answer,
                                       "fetchall": lambda _: [answer]})()

    try:
        behind = WAL_FRAMES_LIMIT + 10
        checkpointer._conn = Connection((0, behind, behind - 3))
        checkpointer.checkpoint()
        assert checkpointer._conn.calls == [("PRAGMA wal_checkpoint(PASSIVE)", False),
                                            ("PRAGMA wal_checkpoint(PASSIVE)", True)]
        assert not lock_is_held()
        for first in [(0, WAL_FRAMES_LIMIT, 1), (0, behind, behind)]:   # small, or done
            checkpointer._conn = Connection(first)
            checkpointer.checkpoint()
            assert checkpointer._conn.calls == [("PRAGMA wal_checkpoint(PASSIVE)", False)]
    finally:
        os.close(probe)


@pytest.fixture
def tiny(tmp_path):
    """The loaded tiny policy of conftest.py: TS-1 denies, TS-2 (2025-01) informs, TS-3
    (2025-06) warns."""
    return load_folder(write_policies(tmp_path / "policies"))[1]["tiny"]


def test_activity_counts_decisions_and_firings_per_effect_per_week(log, tiny):
    days = {dt.date(2025, 5, 26): (["TS-1-too-short", "TS-2-note"], "2025-01"),       # Monday
            dt.date(2025, 6, 1): (["TS-1-too-short"], "2025-01"),                # Sunday, same week
            dt.date(2025, 6, 2): (["TS-1-too-short", "TS-3-long"], "2025-06"),
            dt.date(2025, 6, 4): ([], "2025-06"),
            dt.date(2025, 6, 20): (["TS-3-long"], "2025-06")}
    for n, (as_of, (fired, version)) in enumerate(days.items()):
        log.record(entry(n, fired=fired, version=version, as_of=as_of))
    deny = ["TS-1-too-short"]
    log.record(entry(9, fired=deny, as_of=dt.date(2025, 6, 2), pinned=True))     # a what-if
    log.record(entry(10, fired=deny, as_of=dt.date(2025, 6, 2), policy="other"))
    log.record(entry(11, fired=deny, as_of=dt.date(2025, 7, 1)))                 # after
    found = log.activity(policy=tiny, since=dt.date(2025, 5, 28), until=dt.date(2025, 6, 30))
    assert found.starts == [dt.date(2025, 5, 26), dt.date(2025, 6, 2), dt.date(2025, 6, 9),
                            dt.date(2025, 6, 16), dt.date(2025, 6, 23), dt.date(2025, 6, 30)]
    assert found.decisions == [1, 2, 0, 1, 0, 0]       # 2025-05-26 is before since
    assert found.fired == {"deny": [1, 1, 0, 0, 0, 0], "warn": [0, 1, 0, 1, 0, 0],
                           "info": [0, 0, 0, 0, 0, 0]}
    assert found.total == 4
    monthly = log.activity(policy=tiny, since=dt.date(2025, 5, 1), until=dt.date(2025, 6, 30),
                           bucket="month", rule="TS-1-too-short")
    assert monthly.starts == [dt.date(2025, 5, 1), dt.date(2025, 6, 1)]
    assert monthly.decisions == [1, 4] and monthly.fired == {"deny": [1, 2]}
    with_whatifs = log.activity(policy=tiny, since=dt.date(2025, 6, 1),
                                until=dt.date(2025, 6, 30), bucket="month", rule="TS-1-too-short",
                                pinned=None)
    assert with_whatifs.fired == {"deny": [3]}
    assert log.activity(policy=tiny, since=dt.date(2025, 6, 1), until=dt.date(2025, 6, 30),
                        provider="7654321-2", restrict_provider=True).total == 0
    with pytest.raises(ValueError):
        log.activity(policy=tiny, since=dt.date(2025, 6, 1), until=dt.date(2025, 6, 30),
                     bucket="day")
    with pytest.raises(ValueError):
        log.activity(policy=tiny, since=dt.date(2025, 6, 1), until=dt.date(2025, 6, 30),
                     rule="TS-1' OR 1=1")


def test_outcomes_count_allow_and_deny_per_logged_week(log):
    for n in range(5):
        log.record(entry(n, time=T0 + dt.timedelta(days=3 * n)))       # 1, 4, 7, 10, 13 Jan
    log.record(entry(9, time=T0, policy="other"))
    found = log.outcomes(policy="tiny", since=T0 - dt.timedelta(days=1),
                         until=T0 + dt.timedelta(days=20), bucket="week")
    assert found.starts == [dt.date(2025, 12, 29), dt.date(2026, 1, 5), dt.date(2026, 1, 12),
                            dt.date(2026, 1, 19)]
    assert found.counts == {"allow": [1, 1, 1, 0], "deny": [1, 1, 0, 0]}
    bounded = log.outcomes(policy="tiny", bucket="month", outcome="deny")
    assert bounded.starts == [dt.date(2026, 1, 1)]
    assert bounded.counts == {"allow": [0], "deny": [2]}
    assert log.outcomes(policy="nothing").starts == []
    # a period of millennia is drawn from the first to the last week with decisions
    wide = log.outcomes(policy="tiny", since=dt.datetime(1, 1, 2, tzinfo=dt.UTC),
                        until=dt.datetime(9999, 12, 30, tzinfo=dt.UTC), bucket="week")
    assert wide.starts == [dt.date(2025, 12, 29), dt.date(2026, 1, 5), dt.date(2026, 1, 12)]
    assert wide.counts == {"allow": [1, 1, 1], "deny": [1, 1, 0]}
    assert log.outcomes(policy="tiny", bundle=7).starts == []
