"""Reading the log and replaying it under a draft (service/replay.py), SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from engine import PolicyError
from engine.errors import UnknownPolicy
from engine.folder import read_folder
from service.decision_log import COLUMNS as LOG_COLUMNS
from service.decision_log import DecisionLog
from service.replay import COLUMNS, draft_files, draft_store, logged_from_row, run_impact
from tests.service.conftest import HETU, VERSION_1, Tokens, decision_body

# hours 5.5 (denied by 6 h), 5 (denied by both), 7 (allowed by both), with and without a code
HOURS = [5.5, 5.5, 5, 7, 7, 5.5]


@pytest.fixture
def seeded(any_app):
    """Six real decisions logged by the app (2025-01: at least 6 h), one with a code."""
    client = any_app.test_client()
    tokens = Tokens(any_app.extensions["rehab_rules"].tokens)
    ids = []
    for i, hours in enumerate(HOURS):
        facts = {"hours": hours, **({"client": HETU} if i == 1 else {})}
        answer = client.post("/v1/decisions", json=decision_body(facts=facts),
                             headers=tokens["provider"]).get_json()
        ids.append(answer["decision_id"])
    return any_app, ids


def test_a_draft_that_changes_one_parameter_gives_exact_counts(seeded, policies_dir):
    app, ids = seeded
    running, _ = read_folder(policies_dir)
    files = draft_files(running, {"tiny/2025-01.yaml": VERSION_1.replace(
        "min_hours: 6", "min_hours: 5.5")})
    store = draft_store(files, "tiny")
    log = app.extensions["rehab_rules"].log
    seen = []
    try:
        report = run_impact(log, store, "tiny", examples=10, progress=seen.append)
    finally:
        store.close()
    assert (report["read"], report["replayed"], report["unchanged"]) == (6, 6, 2)
    assert report["changed"]["deny_to_allow"] == 3
    assert report["changed"]["allow_to_deny"] == 0
    # 5 h is still too short, but its message now says "< 5.5 h"
    assert report["changed"]["other"] == 1
    assert report["changed"]["other_by_aspect"]["messages_only"] == 1
    assert [e["decision_id"] for e in report["examples"]["other"]] == [ids[2]]
    assert {e["decision_id"] for e in report["examples"]["deny_to_allow"]} == {
        ids[0], ids[1], ids[5]}
    assert report["rules"]["TS-1-too-short"]["no_longer_fires"] == 3
    assert report["not_replayable"]["count"] == 0
    assert seen == [6]                        # one batch


def test_window_action_and_limit(seeded, policies_dir):
    app = seeded[0]
    running, _ = read_folder(policies_dir)
    store = draft_store(draft_files(running, {}), "tiny")
    log = app.extensions["rehab_rules"].log
    try:
        newest = run_impact(log, store, "tiny", limit=2)
        other = run_impact(log, store, "tiny", action="night")
    finally:
        store.close()
    assert newest["read"] == 2 and newest["unchanged"] == 2
    assert other["read"] == 0


def test_rows_become_logged_decisions(seeded):
    app, ids = seeded
    log: DecisionLog = app.extensions["rehab_rules"].log
    rows = [r for batch in log.scan(policy="tiny") for r in batch]
    item = logged_from_row(next(r for r in rows if r["id"] == ids[1]))
    assert item.facts["client"].startswith("hetu#")
    assert item.hetu_checks == {"client": {"valid": True, "temporary": False}}
    assert item.findings["violations"][0]["rule"] == "TS-1-too-short"
    assert logged_from_row(log.stored(ids[1])) == item
    assert set(COLUMNS) <= set(LOG_COLUMNS)       # a replay reads only what the log holds


def test_a_broken_or_foreign_draft_is_refused(policies_dir):
    running, _ = read_folder(policies_dir)
    with pytest.raises(PolicyError) as refused:
        draft_files(running, {"tiny/2025-01.yaml": VERSION_1.replace("min_hours: 6",
                                                                     "min_hours: [")})
    assert refused.value.problems[0].path == "draft/tiny/2025-01.yaml"
    with pytest.raises(PolicyError):
        draft_files(running, {"nested/tiny/x.yaml": "x: 1"})
    with pytest.raises(UnknownPolicy):
        draft_store(draft_files(running, {}), "other")



def test_the_cases_a_draft_changes_read_on_a_terminal():
    from service.replay import render_cases

    report = {"cases": {"run": 4, "changed": [
        {"name": "a short day", "action": "day", "version": "2025-01",
         "where": "fixtures/tiny/2025-01/day.yaml:2",
         "failures": ["outcome: expected deny, got allow", "fired: …"]}]}}
    assert render_cases(report).splitlines() == [
        "fixture cases: 4 run, 1 would answer differently",
        "  fixtures/tiny/2025-01/day.yaml:2: 'a short day' (day, 2025-01): "
        "outcome: expected deny, got allow; fired: …"]
    assert render_cases({}) == "fixture cases: 0 run, 0 would answer differently"


def test_unchanged_answers_are_compared_as_stored_texts(seeded, policies_dir, monkeypatch):
    """A replay that writes the very JSON texts logged parses none of them; one that
    changes decisions parses only texts of those, and of each only what differs."""
    import engine.replay

    app = seeded[0]
    parsed = []
    real = engine.replay.load_text
    monkeypatch.setattr(engine.replay, "load_text", lambda text: parsed.append(text)
                        or real(text))
    running, _ = read_folder(policies_dir)
    log = app.extensions["rehab_rules"].log
    store = draft_store(draft_files(running, {}), "tiny")
    try:
        report = run_impact(log, store, "tiny")
    finally:
        store.close()
    assert (report["read"], report["unchanged"]) == (6, 6)
    assert parsed == []
    store = draft_store(draft_files(running, {"tiny/2025-01.yaml": VERSION_1.replace(
        "min_hours: 6", "min_hours: 5.5")}), "tiny")
    try:
        report = run_impact(log, store, "tiny")
    finally:
        store.close()
    assert report["changed"]["deny_to_allow"] == 3
    denied = [r for b in log.read_raw(("outcome", "fired", "results", "findings"),
                                       policy="tiny") for r in b if r[0] == "deny"]
    assert parsed and set(parsed) <= {text for row in denied for text in row[1:]}
    assert not {row[2] for row in denied} & set(parsed)       # results unchanged: not read


def test_the_log_read_through_the_driver_is_the_stored_log(seeded):
    """``read_raw`` gives the rows ``scan`` gives, newest first, JSON as the stored text;
    ``id_slices`` cuts them into slices that, each read ``within`` its ends, are the same
    rows again, and with a limit only the newest."""
    import json

    from engine.replay import ROW
    from service.replay import TEXTS

    app, ids = seeded
    log: DecisionLog = app.extensions["rehab_rules"].log
    scanned = [r for b in log.scan(policy="tiny", columns=COLUMNS, texts=TEXTS) for r in b]
    raw = [r for b in log.read_raw(ROW, batch=4, policy="tiny") for r in b]
    assert [r[0] for r in raw] == [r["id"] for r in scanned] == sorted(ids, reverse=True)
    for got, row in zip(raw, scanned, strict=True):
        values = dict(zip(ROW, got, strict=True))
        assert {k: values[k] for k in TEXTS} == {k: row[k] for k in TEXTS}
        assert json.loads(values["facts"]) == row["facts"]
        assert str(values["as_of"])[:10] == row["as_of"].isoformat()
        assert bool(values["pinned"]) is row["pinned"]
    assert [r for b in log.read_raw(ROW, policy="tiny", action="nope") for r in b] == []
    slices = list(log.id_slices(4, policy="tiny"))
    assert len(slices) == 2 and slices[0][1] == raw[0][0] and slices[-1][0] == raw[-1][0]
    again = [r for s in slices for b in log.read_raw(ROW, batch=3, within=s, policy="tiny")
             for r in b]
    assert again == raw
    newest = list(log.id_slices(4, limit=5, policy="tiny"))
    assert [r[0] for s in newest for b in log.read_raw(("id",), within=s, policy="tiny")
            for r in b] == [r[0] for r in raw[:5]]


def test_the_log_is_read_in_batches_with_the_same_report(seeded, policies_dir, monkeypatch):
    import service.replay

    app, _ = seeded
    running, _ = read_folder(policies_dir)
    store = draft_store(draft_files(running, {"tiny/2025-01.yaml": VERSION_1.replace(
        "min_hours: 6", "min_hours: 5.5")}), "tiny")
    log = app.extensions["rehab_rules"].log
    seen: list[int] = []
    try:
        whole = run_impact(log, store, "tiny", examples=1)
        monkeypatch.setattr(service.replay, "BATCH", 4)
        batched = run_impact(log, store, "tiny", examples=1, progress=seen.append)
    finally:
        store.close()
    assert seen == [4, 2]
    assert batched == whole
    assert batched["changed"]["deny_to_allow"] == 3


def test_rows_read_as_texts_decode_to_the_stored_row(seeded):
    app, ids = seeded
    log: DecisionLog = app.extensions["rehab_rules"].log
    from service.replay import TEXTS

    [row] = [r for b in log.scan(policy="tiny", columns=COLUMNS, texts=TEXTS) for r in b
             if r["id"] == ids[1]]
    assert isinstance(row["results"], str) and isinstance(row["findings"], str)
    assert logged_from_row(row, texts=True).decoded() == logged_from_row(log.stored(ids[1]))


@pytest.mark.slow
def test_two_jobs_give_the_report_of_one(app, policies_dir, monkeypatch):
    """Spread over worker processes (spawned, each reading its own chunks), the report is
    the one-job report exactly: examples, rules and refusals merged in the order read."""
    import service.replay

    client = app.test_client()
    tokens = Tokens(app.extensions["rehab_rules"].tokens)
    for i, hours in enumerate(HOURS * 3):
        facts = {"hours": hours, **({"client": HETU} if i % 4 == 1 else {})}
        assert client.post("/v1/decisions", json=decision_body(facts=facts),
                           headers=tokens["provider"]).status_code == 200
    log = app.extensions["rehab_rules"].log
    # a row the draft cannot replay: its personal code was logged without its checks
    with log.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE decisions SET hetu_checks = NULL WHERE id = "
                             "(SELECT MIN(id) FROM decisions WHERE facts LIKE '%hetu#%')")
    running, _ = read_folder(policies_dir)
    store = draft_store(draft_files(running, {"tiny/2025-01.yaml": VERSION_1.replace(
        "min_hours: 6", "min_hours: 5.5")}), "tiny")
    monkeypatch.setattr(service.replay, "PARALLEL_MIN", 1)
    monkeypatch.setattr(service.replay, "CHUNK", 4)
    spread = []
    real = service.replay._replay_in_workers
    monkeypatch.setattr(service.replay, "_replay_in_workers",
                        lambda *a: spread.append(a[-2]) or real(*a))
    seen: list[int] = []
    try:
        one = run_impact(log, store, "tiny", examples=2, jobs=1)
        two = run_impact(log, store, "tiny", examples=2, jobs=2, progress=seen.append)
    finally:
        store.close()
    assert spread == [2]                            # jobs=1 stays in-process
    assert seen == [4, 4, 4, 4, 2]                  # five chunks, merged in order
    assert two == one
    assert one["read"] == 18 and one["not_replayable"]["count"] == 1
    assert one["changed"]["deny_to_allow"] == 8


def test_reading_ahead_hands_over_rows_errors_and_stops_with_the_replay():
    """From a database server the next batch is read by a thread while this one is
    decided: the batches come in order (and are typed after), an error of the reading is
    raised in the replay, and a replay that stops early leaves no thread behind."""
    import threading

    from service.replay import _read_ahead, _rows

    def raw(n: int) -> list[tuple]:
        return [(str(n), "p", "a", "v", "2025-01-02", "fi", '{"x": 1}', "allow", "[]", "{}",
                 "{}", 1, None)]

    def batches(fail: bool = False):
        for n in range(5):
            if fail and n == 2:
                raise RuntimeError("connection lost")
            yield raw(n)

    got = [_rows(b) for b in _read_ahead(batches(), depth=1)]
    assert [b[0][0] for b in got] == ["0", "1", "2", "3", "4"]
    assert got[0][0][4] == dt.date(2025, 1, 2) and got[0][0][6] == {"x": 1}
    assert got[0][0][11] is True
    seen = []
    with pytest.raises(RuntimeError, match="connection lost"):
        for b in _read_ahead(batches(fail=True), depth=1):
            seen.append(b[0][0])
    assert seen == ["0", "1"]
    for _ in _read_ahead(batches(), depth=1):
        break
    assert not [t for t in threading.enumerate() if t.name == "impact-read-ahead"]
