"""bench/http.py's parts that run without a server: the database's commit floor, the batch it
sends and how it judges a ratio."""

from __future__ import annotations

import json
from collections import Counter

from bench.http import BATCH, ROOT, _workload, batch_bodies, commit_floor
from engine import PolicyStore
from engine.batch import decide_many
from engine.model import Decision
from service.database import make_engine


def test_commit_floor_times_one_row_commits_and_leaves_no_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'floor.db'}"
    p50, p99 = commit_floor(url, commits=50)
    assert 0 < p50 <= p99
    engine = make_engine(url)
    with engine.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    engine.dispose()
    assert ("bench_commit_floor",) not in tables


def test_the_batch_is_a_hundred_different_decisions_of_the_real_policy(tmp_path):
    # decide_many shares identical requests: copies of one body would measure the sharing
    _, body = _workload(tmp_path)
    bodies = batch_bodies(body)
    assert len(bodies) == BATCH
    assert len({json.dumps(b, sort_keys=True) for b in bodies}) == BATCH
    answers = decide_many(PolicyStore.load(ROOT / "policies"), bodies)
    assert all(isinstance(a, Decision) for a in answers)          # none refused
    outcomes = Counter(a.outcome for a in answers)
    assert outcomes["allow"] > outcomes["deny"] > 0               # mostly ordinary days
    assert len({a.fired for a in answers}) > 2


def test_the_batch_of_the_fallback_policy_differs_too():
    bodies = batch_bodies({"policy": "tiny", "action": "day", "as_of": "2025-03-10",
                           "facts": {"hours": 7}})
    assert len({b["facts"]["hours"] for b in bodies}) == BATCH
