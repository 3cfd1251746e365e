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


@pytest.mark.slow
def test_a_small_run_prints_every_figure(capsys):
    impact.main(["--rows", "300", "--jobs", "2", "--spread", "2"])
    out = capsys.readouterr().out
    assert "seeded 300 decisions" in out and "into SQLite" in out
    assert "300 replayed" in out and "the same report with every number of jobs" in out
    for name in ("decide alone: ", "impact, 1 job: ", "impact, 2 jobs: "):
        [line] = [x for x in out.splitlines() if x.startswith(name)]
        assert "rows per second" in line and "peak memory" in line and "µs CPU" in line
    assert out.count("impact / decide: ") == 2
