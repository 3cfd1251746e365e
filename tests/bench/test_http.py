"""bench/http.py's parts that run without a server: the database's commit floor."""

from __future__ import annotations

from bench.http import commit_floor
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
