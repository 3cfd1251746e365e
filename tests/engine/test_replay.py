"""Replaying logged decisions under a draft (engine/replay.py)."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from engine import PolicyStore, decide
from engine.personal import hetu_checks, valid_hetu
from engine.replay import (
    Impact,
    LoggedDecision,
    fixture_case,
    render_report,
    restore_facts,
)
from tests.conftest import DEMO, write_policy

VALID, TEMPORARY, INVALID = "131052-308T", "010594Y9021", "131052-308X"
_ids = itertools.count(1)


def logged(store: PolicyStore, facts: dict, *, lang: str = "en", checks: bool = True,
           as_of: str = "2024-05-01", version: str | None = None) -> LoggedDecision:
    """What the service logs for one decision: personal codes hashed, checks beside them."""
    d = decide(store, policy="demo", action="day", as_of=as_of, facts=facts, lang=lang,
               version=version)
    answer = d.to_dict()
    masked = {k: "hetu#" + hashlib.sha256(v.encode()).hexdigest()[:32]
              if k in d.personal_facts else v for k, v in facts.items()}
    return LoggedDecision(
        id=f"id-{next(_ids):04d}", policy="demo", action="day", version=d.version,
        as_of=d.as_of, lang=lang, facts=masked, outcome=d.outcome, fired=d.fired,
        results=answer["results"], pinned=d.pinned,
        findings={k: answer[k] for k in ("violations", "warnings", "notices", "obligations")},
        hetu_checks=hetu_checks(facts, d.personal_facts) if checks else None)


@pytest.fixture
def draft(tmp_path):
    """The demo with min_hours 5 (was 6): a one-parameter change."""
    root = tmp_path / "draft"
    write_policy(root, DEMO.replace("min_hours: 6", "min_hours: 5"))
    store = PolicyStore.load(root)
    yield store
    store.close()


def test_restored_facts_hold_synthetic_codes_never_the_hash(demo_store):
    item = logged(demo_store, {"hours": 7, "kind": "a", "code": VALID})
    facts = restore_facts(item)
    assert valid_hetu(facts["code"]) and facts["code"] != VALID
    blank = logged(demo_store, {"hours": 7, "kind": "a", "code": "  "})
    assert restore_facts(blank)["code"] == ""
    legacy = logged(demo_store, {"hours": 7, "kind": "a", "code": VALID}, checks=False)
    with pytest.raises(Exception, match="before its validity was recorded"):
        restore_facts(legacy)


def test_a_one_parameter_draft_gives_exact_counts(demo_store, draft):
    items = [
        logged(demo_store, {"hours": 5.5, "kind": "a"}),                    # deny → allow
        logged(demo_store, {"hours": 4.5, "kind": "a"}),                    # still deny
        logged(demo_store, {"hours": 5.5, "kind": "a", "code": INVALID}),   # deny, by TT-6 only
        logged(demo_store, {"hours": 5.5, "kind": "a", "code": VALID}),     # deny → allow
        logged(demo_store, {"hours": 7, "kind": "a", "code": TEMPORARY}),   # unchanged
        logged(demo_store, {"hours": 7, "kind": "b"}, lang="fi"),           # unchanged
        logged(demo_store, {"hours": 7, "kind": "a", "code": VALID}, checks=False),
    ]
    impact = Impact(draft, examples=10)
    impact.add(items[:4])
    impact.add(items[4:])                                       # batches add up
    report = impact.report()
    assert (report["read"], report["replayed"], report["unchanged"]) == (7, 6, 3)
    assert report["changed"]["deny_to_allow"] == 2 and report["changed"]["allow_to_deny"] == 0
    # still denied, by the invalid code alone: TT-1 no longer fires, its message is gone
    assert report["changed"]["other"] == 1
    assert report["changed"]["other_by_aspect"] == {
        "fired": 1, "results": 0, "obligations": 0, "messages": 1, "messages_only": 0}
    assert report["changed"]["total"] == 3
    assert report["rules"] == {"TT-1-short": {
        "newly_fires": 0, "no_longer_fires": 3,
        "examples": [items[0].id, items[2].id, items[3].id]}}
    examples = report["examples"]["deny_to_allow"]
    assert [e["decision_id"] for e in examples] == [items[0].id, items[3].id]
    assert examples[0]["facts_that_mattered"] == {"hours": 5.5}
    assert examples[0]["before"] == "deny" and examples[0]["after"] == "allow"
    refused = report["not_replayable"]
    assert refused["count"] == 1 and refused["by_reason"] == {"hetu_unknown": 1}
    assert refused["decisions"][0]["decision_id"] == items[6].id
    text = render_report(report)
    assert "7 logged decision(s) read: 6 replayed, 3 unchanged, 3 changed, 1 not replayable" \
        in text
    assert "TT-1-short: no longer fires in 3" in text and "hetu_unknown" in text


def test_other_changes_are_told_apart(demo_store, tmp_path):
    root = tmp_path / "other"
    write_policy(root, DEMO.replace("add_months(start, 6)", "add_months(start, 7)")
                 .replace('en: "Too short: {hours} h"', 'en: "Short: {hours} h"')
                 .replace("a: {min_size: 6, max_size: 12}", "a: {min_size: 5, max_size: 12}"))
    store = PolicyStore.load(root)
    try:
        items = [logged(demo_store, {"hours": 7, "kind": "a", "start": "2026-01-31"}),
                 logged(demo_store, {"hours": 5, "kind": "b"}),
                 logged(demo_store, {"hours": 5, "kind": "b"}, lang="fi"),
                 logged(demo_store, {"hours": 7, "kind": "a"}),
                 logged(demo_store, {"hours": 7, "kind": "b"})]
        impact = Impact(store)
        impact.add(items)
        report = impact.report()
    finally:
        store.close()
    # 1: due date and size result; 2: message only (en); 3: fi message unchanged;
    # 4: size result; 5: unchanged (kind b)
    assert report["unchanged"] == 2
    assert report["changed"]["other"] == 3
    assert report["changed"]["other_by_aspect"] == {
        "fired": 0, "results": 2, "obligations": 1, "messages": 3, "messages_only": 1}
    assert report["rules"] == {}


def test_pinning_and_refusals(demo_store, tmp_path):
    root = tmp_path / "two"
    write_policy(root)
    write_policy(root, DEMO.replace('version: "2024-01"', 'version: "2027-01"').replace(
        "effective_from: 2024-01-01", "effective_from: 2027-01-01").replace(
        "min_hours: 6", "min_hours: 5"), version="2027-01")
    store = PolicyStore.load(root)
    try:
        items = [logged(demo_store, {"hours": 5.5, "kind": "a"}),
                 logged(demo_store, {"hours": 5.5, "kind": "a"}, as_of="2023-06-01",
                        version="2024-01")]
        by_date = Impact(store)
        by_date.add(items)
        pinned = Impact(store, version="2027-01")
        pinned.add(items)
        unknown = Impact(store, version="2030-01")
        unknown.add(items[:1])
    finally:
        store.close()
    # by date 2024-01 is in force (and a logged what-if stays pinned to its version)
    assert by_date.report()["unchanged"] == 2
    assert pinned.report()["changed"]["deny_to_allow"] == 2
    assert pinned.report()["examples"]["deny_to_allow"][0]["replayed_version"] == "2027-01"
    assert unknown.report()["not_replayable"]["by_reason"] == {"unknown_version": 1}


def test_a_logged_decision_becomes_a_case_with_a_synthetic_code(demo_store):
    item = logged(demo_store, {"hours": 5, "kind": "a", "code": INVALID,
                               "start": "2026-08-31"}, lang="sv")
    case = fixture_case(item, name="short")
    assert case["name"] == "short" and case["lang"] == "sv"
    assert case["facts"]["code"] not in (INVALID, item.facts["code"])
    assert not valid_hetu(case["facts"]["code"])
    assert case["expect"] == {"outcome": "deny", "fired": list(item.fired),
                              "results": item.results,
                              "obligations": {"TT-3-due": "2027-02-28"}}


def test_the_texts_compared_are_the_ones_the_log_writes():
    """A replay judges a decision unchanged by writing its fired rules, results and
    findings as the log writes them (``json.dumps(..., ensure_ascii=False)``) and comparing
    the texts: written piece by piece, they must be the very same texts, for every fixture
    case of every policy (findings with citations, due dates, results with dates), twice
    (the second time from the memo), and any other text is no match."""
    import json
    from pathlib import Path

    from engine.fixtures import load_suite
    from engine.model import FINDING_KINDS, json_form
    from engine.replay import _Texts

    root = Path(__file__).resolve().parents[2]
    store = PolicyStore.load(root / "policies")
    try:
        cases, _ = load_suite([root / "fixtures"], store.policies)
        texts, seen = _Texts(), 0
        for case in cases:
            try:
                d = decide(store, policy=case.policy, action=case.action, as_of=case.as_of,
                           facts=case.facts, lang=case.lang, version=case.version)
            except Exception:                   # a case that expects a refusal
                continue
            answer = d.to_dict()
            logged = [json.dumps(v, ensure_ascii=False) for v in (
                list(d.fired), json_form(d.results),
                {k: answer[k] for k in FINDING_KINDS})]
            seen += any(answer[k] for k in FINDING_KINDS)
            assert texts.same(*logged, d) and texts.same(*logged, d), case.name
            assert not texts.same(logged[0], logged[1], logged[2][:-1] + " }", d)
            assert not texts.same(logged[0] + " ", logged[1], logged[2], d)
        assert seen > 10
    finally:
        store.close()


def as_stored(item: LoggedDecision) -> LoggedDecision:
    """``item`` as the service's reader hands it over: fired rules, results and findings as
    their stored JSON texts."""
    import dataclasses
    import json

    return dataclasses.replace(item, fired=(), results={}, findings={}, texts={
        "fired": json.dumps(list(item.fired), ensure_ascii=False),
        "results": json.dumps(item.results, ensure_ascii=False),
        "findings": json.dumps(item.findings, ensure_ascii=False)})


def test_stored_texts_are_judged_as_their_values(demo_store, tmp_path):
    """Decisions handed over as their stored texts (each decoded only where the answer
    writes another text) make the very report their decoded values make: every aspect,
    every rule, every example."""
    root = tmp_path / "other"
    write_policy(root, DEMO.replace("add_months(start, 6)", "add_months(start, 7)")
                 .replace('en: "Too short: {hours} h"', 'en: "Short: {hours} h"')
                 .replace("a: {min_size: 6, max_size: 12}", "a: {min_size: 5, max_size: 12}")
                 .replace("min_hours: 6", "min_hours: 5"))
    store = PolicyStore.load(root)
    try:
        items = [logged(demo_store, facts, lang=lang) for facts, lang in (
            ({"hours": 7, "kind": "a", "start": "2026-01-31"}, "en"),
            ({"hours": 5, "kind": "b"}, "en"), ({"hours": 5, "kind": "b"}, "fi"),
            ({"hours": 5.5, "kind": "a", "code": VALID}, "en"),
            ({"hours": 7, "kind": "a"}, "sv"), ({"hours": 7, "kind": "b"}, "en"))]
        items.append(logged(demo_store, {"hours": 5, "kind": "a", "code": TEMPORARY},
                            checks=False))
        reports = []
        for given in (items, [as_stored(i) for i in items]):
            impact = Impact(store, examples=10)
            impact.add(given)
            reports.append(impact.report())
    finally:
        store.close()
    assert reports[0] == reports[1]
    assert reports[0]["unchanged"] >= 1 and reports[0]["not_replayable"]["count"] == 1
    assert reports[0]["changed"]["total"] >= 4 and reports[0]["rules"]


def test_a_stored_text_is_read_as_json_loads_reads_it():
    """``load_text``: the value ``json.loads`` gives, or its error, whatever the text."""
    import json

    from engine.replay import load_text

    for text in ('{"a": [1, 2.5, "ä"], "b": null}', "[]", '"x"', "3", ' {"a": 1} ',
                 '{"a": 1}\n', "NaN", b'{"a": 1}'):
        value = load_text(text)
        assert value == json.loads(text) or value != value
    for text in ('{"a": 1} x', '{"a": 1', "", "\ufeff{}", '{"a": 1}{}'):
        with pytest.raises(json.JSONDecodeError) as expected:
            json.loads(text)
        with pytest.raises(json.JSONDecodeError) as got:
            load_text(text)
        assert str(got.value) == str(expected.value)


def test_logged_findings_are_read_as_json_loads_reads_them():
    """A changed decision's logged findings are read without their citations: each kind's
    (rule, message, due) are those ``json.loads`` finds, for every fixture case, read twice
    (the second time skipping the citations seen); a text of any other form is left to
    ``json.loads``."""
    import json
    from pathlib import Path

    from engine.fixtures import load_suite
    from engine.model import FINDING_KINDS
    from engine.replay import _Texts

    root = Path(__file__).resolve().parents[2]
    store = PolicyStore.load(root / "policies")
    try:
        cases, _ = load_suite([root / "fixtures"], store.policies)
        texts, seen = _Texts(), 0
        for case in cases:
            try:
                d = decide(store, policy=case.policy, action=case.action, as_of=case.as_of,
                           facts=case.facts, lang=case.lang, version=case.version)
            except Exception:                   # a case that expects a refusal
                continue
            answer = d.to_dict()
            text = json.dumps({k: answer[k] for k in FINDING_KINDS}, ensure_ascii=False)
            loaded = json.loads(text)
            expected = [[(f["rule"], f["message"], f.get("due")) for f in loaded[k]]
                        for k in FINDING_KINDS]
            seen += sum(map(len, expected))
            assert texts.findings_read(text) == expected == texts.findings_read(text)
            for other in (text.replace('"message": ', '"message":  '),
                          text.replace('{"violations"', '{"warnings": [], "violations"'),
                          text[:-1], text + " ", text.replace('"rule": "', '"rule": 1, "x": "')):
                assert other == text or texts.findings_read(other) is None
        assert seen > 10
        # a citation's text seen before is skipped, not read: an object ends where it closes
        cite = '{"seed": "001"}'
        base = '{"violations": [], "warnings": [], "notices": [], "obligations": ['
        one = base + '{"rule": "R", "message": "m", "cite": ' + cite + ', "due": "x"}]}'
        assert texts.findings_read(one) == [[], [], [], [("R", "m", "x")]]
        assert texts.cites["R"] == [cite]
        assert texts.findings_read(one.replace(cite, cite[:-1] + ', "a": [1]}')) == [
            [], [], [], [("R", "m", "x")]]
        assert texts.findings_read(one.replace(cite, "5")) == [[], [], [], [("R", "m", "x")]]
        assert texts.findings_read(one.replace(cite, "[")) is None
        assert texts.cites["R"] == [cite, cite[:-1] + ', "a": [1]}']
    finally:
        store.close()


def test_results_are_written_as_the_log_writes_their_json_form():
    """Plain results are written as they are, any other through their JSON form: either way
    the text ``json.dumps(json_form(results), ensure_ascii=False)`` writes."""
    import datetime as dt
    import json

    from engine.model import json_form
    from engine.replay import _Texts

    class Text(str):
        pass

    for results in ({}, {"a": 1, "b": 2.5, "c": True, "d": None, "e": "ä"},
                    {"a": dt.date(2027, 1, 31)}, {"a": (1, 2)}, {"a": {"b": 1}},
                    {1: "x"}, {True: "x"}, {"a": Text("t")}, {"a": float("nan")}):
        answer = type("D", (), {"results": results})()
        assert _Texts.results_text(answer) == json.dumps(json_form(results),
                                                         ensure_ascii=False), results
