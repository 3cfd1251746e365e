"""``make bench-impact`` (bench/impact.py): its log spread over a year of event dates, and a
small run end to end (each measurement in a process of its own)."""

from __future__ import annotations

import datetime as dt

import pytest

from bench import impact


def test_a_case_moved_by_a_month_keeps_its_meaning():
    """Event date and every date among the facts move alike; nothing else changes."""
    case = {"policy": "p", "action": "a", "version": "2024-01", "lang": "fi",
            "as_of": dt.date(2026, 4, 1),
            "facts": {"start": "2026-05-01", "n": 3, "code": "2026-13-01",
                      "dates": ["2026-04-02"], "nested": {"d": "2026-04-03"}}}
    first, moved = impact.spread([case], 2)
    assert first == case
    assert moved["as_of"] == dt.date(2026, 5, 1)
    assert moved["facts"] == {"start": "2026-05-31", "n": 3, "code": "2026-13-01",
                              "dates": ["2026-05-02"], "nested": {"d": "2026-05-03"}}
    assert {k: v for k, v in moved.items() if k not in ("as_of", "facts")} == {
        k: v for k, v in case.items() if k not in ("as_of", "facts")}


def test_the_figures_are_medians_of_the_processes_with_each_one_beside():
    """Each measurement's line gives the median process's µs and the ratios of the medians;
    every process's own figure follows, and a line gives each round's ratios."""
    def run(seconds: float, cpu: float, child: int = 0) -> dict:
        return {"seconds": seconds, "cpu": cpu, "peak": 100 << 20, "peak_child": child,
                "before": 50 << 20, "report": None}

    runs = {"decide alone": [run(2.0, 2.0), run(3.0, 2.5), run(2.5, 2.2)],
            "impact, 1 job": [run(4.0, 3.0), run(3.0, 3.3), run(5.0, 3.6)],
            "impact, 2 jobs": [run(1.0, 4.0, 80 << 20)] * 3}
    alone, one, two, rounds = impact.figure_lines(
        runs, 1000, {"impact, 1 job": 1.3, "impact, 2 jobs": 0.4})
    assert alone.startswith("decide alone: 2.5 s, 2500.0 µs per decision (2200.0 µs CPU)")
    assert "impact / decide" not in alone
    assert alone.endswith("median of 3 processes: 2000.0, 3000.0, 2500.0 µs "
                          "(CPU 2000.0, 2500.0, 2200.0)")
    assert "impact / decide: 1.600 (CPU 1.500), target ≤ 1.3: not met;" in one
    assert "impact / decide: 0.400 (CPU 1.818), target ≤ 0.4: met;" in two
    assert "workers 80 MB each at most" in two and "workers" not in one
    assert rounds == ("impact / decide in each round: impact, 1 job 2.00 (CPU 1.50), "
                      "1.00 (CPU 1.32), 2.00 (CPU 1.64); impact, 2 jobs 0.50 (CPU 2.00), "
                      "0.33 (CPU 1.60), 0.40 (CPU 1.82)")
    [single] = impact.figure_lines({"decide alone": [run(2.0, 2.0)]}, 1000)
    assert "median" not in single
    assert "target" not in "".join(impact.figure_lines(runs, 1000))


@pytest.mark.slow
def test_a_small_run_prints_every_figure(capsys):
    impact.main(["--rows", "300", "--jobs", "2", "--spread", "2", "--reps", "1"])
    out = capsys.readouterr().out
    assert "seeded 300 decisions" in out and "into SQLite" in out
    assert "300 replayed" in out and "the same report with every number of jobs" in out
    for name in ("decide alone: ", "impact, 1 job: ", "impact, 2 jobs: "):
        [line] = [x for x in out.splitlines() if x.startswith(name)]
        assert "rows per second" in line and "peak memory" in line and "µs CPU" in line
        assert ("target ≤" in line) == (name != "decide alone: ")
    assert out.count("impact / decide: ") == 2


def test_a_seeded_sqlite_log_has_its_wal_checkpointed(tmp_path):
    """The replay reads the rows from the database file, not through a WAL as large as it
    (a live log's checkpoints keep its WAL small): after seeding, the WAL is empty or gone,
    and every row is there."""
    from sqlalchemy import text

    from engine import PolicyStore

    store = PolicyStore.load(impact.ROOT / "policies")
    try:
        work = impact.cases_of(store, impact.POLICY, "2024-01")[:5]
        path = tmp_path / "log.db"
        log = impact.seed_log(f"sqlite:///{path}", store, work, 120)
    finally:
        store.close()
    try:
        wal = path.with_name("log.db-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        with log.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM decisions")).scalar() == 120
    finally:
        log.engine.dispose()
