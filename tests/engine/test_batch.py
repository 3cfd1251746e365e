"""engine.decide_many (engine/batch.py): the same answers as engine.decide, request by request.

Every comparison decides each request alone with ``decide`` (an exception becomes its code,
message and details) and the whole list with ``decide_many``, on durable_rules and on the
pure-Python evaluator: every fixture case, a few hundred of the differential test's generated
fact sets shuffled into one mixed batch, refused requests among good ones.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from engine import Decision, EngineError, EvaluationError, PolicyStore, decide, decide_many
from engine.backend import CHUNK, DurableEvaluator
from engine.fixtures import load_suite
from engine.pyeval import PythonEvaluator
from tests.conftest import FIXTURES

SEED = 20261206
EVALUATORS = {"durable": None, "python": PythonEvaluator()}


def _alone(store: PolicyStore, request: dict[str, Any]) -> Any:
    try:
        return decide(store, **request)
    except EngineError as exc:
        return exc


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, EngineError):
        return (type(got) is type(want) and got.code == want.code
                and got.message == want.message and got.details == want.details)
    return isinstance(got, Decision) and got == want


def _check(store: PolicyStore, requests: list[dict[str, Any]]) -> list[Any]:
    want = [_alone(store, r) for r in requests]
    got = decide_many(store, requests)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert _same(g, w), f"request {i} {requests[i]}: batch {g!r}, alone {w!r}"
    return got


def _with(requests: list[dict[str, Any]], evaluator: Any) -> list[dict[str, Any]]:
    return [r if evaluator is None else {**r, "evaluator": evaluator} for r in requests]


# -- every fixture case ------------------------------------------------------------------------

def _fixture_requests(store: PolicyStore) -> list[dict[str, Any]]:
    cases, problems = load_suite([FIXTURES], store.policies)
    assert not problems and cases
    return [dict(policy=c.policy, action=c.action, as_of=c.as_of, facts=c.facts, lang=c.lang,
                 version=c.version) for c in cases]


@pytest.mark.parametrize("evaluator", EVALUATORS, ids=list(EVALUATORS))
def test_every_fixture_case_decides_the_same_in_one_batch(real_store, evaluator):
    requests = _with(_fixture_requests(real_store), EVALUATORS[evaluator])
    got = _check(real_store, requests)
    assert sum(isinstance(g, Decision) for g in got) > 100
    assert any(isinstance(g, EngineError) for g in got)       # cases that expect an error


def test_fixture_cases_unpinned_explained_and_cited_in_every_language(real_store):
    """As of each case's day (the version in force, or none yet), with a trace and the
    sections' sentences, in each language."""
    requests = []
    for i, r in enumerate(_fixture_requests(real_store)):
        del r["version"]
        requests.append({**r, "lang": ("fi", "sv", "en")[i % 3], "explain": i % 2 == 0,
                         "cite_text": i % 4 == 1})
    got = _check(real_store, requests)
    assert any(isinstance(g, Decision) and g.trace for g in got)


# -- the differential test's generated inputs ---------------------------------------------------

def _generated(store: PolicyStore, per_action: int = 12) -> list[dict[str, Any]]:
    """The differential test's fact sets (its generator, a fixed seed) for every action of
    every version, on days around each version's start, some pinned, all shuffled."""
    from tests.engine.test_differential import _fact_sets

    rng = random.Random(SEED)
    out = []
    for name, policy in sorted(store.policies.items()):
        for version in policy.versions:
            keys = {str(k) for v in version.parameters.values() if isinstance(v, dict)
                    for k in v}
            for action in sorted(version.actions):
                plan = store.current.plans[(name, version.version)][action]
                for facts in _fact_sets(plan, keys, per_action, rng):
                    day = version.effective_from + dt.timedelta(days=rng.choice((-1, 0, 40)))
                    request = dict(policy=name, action=action, as_of=day.isoformat(),
                                   facts=facts, lang=rng.choice(("fi", "sv", "en")))
                    if rng.random() < 0.2:
                        request["version"] = version.version
                    out.append(request)
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("evaluator", EVALUATORS, ids=list(EVALUATORS))
def test_generated_fact_sets_mixed_over_policies_versions_and_actions(real_store, evaluator):
    requests = _with(_generated(real_store), EVALUATORS[evaluator])
    assert len(requests) >= 200
    assert len({(r["policy"], r["action"]) for r in requests}) > 5
    got = _check(real_store, requests)
    assert {type(g).__name__ for g in got} >= {"Decision", "FactError", "NoVersionInForce"}


def test_an_evaluator_a_request_names_is_prepared_once_and_released(demo_store):
    durable = DurableEvaluator()
    prepared = []
    real = DurableEvaluator.prepare

    def prepare(self, plan):
        prepared.append(plan.name)
        return real(self, plan)

    before = durable.registered()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DurableEvaluator, "prepare", prepare)
        got = decide_many(demo_store, [{**_day(h), "evaluator": durable} for h in (5, 7, 9)])
    assert [g.outcome for g in got] == ["deny", "allow", "allow"]
    assert len(prepared) == 1 and durable.registered() == before


def test_both_evaluators_in_one_batch(real_store):
    requests = _generated(real_store, per_action=4)
    python = PythonEvaluator()
    mixed = [{**r, "evaluator": python} if i % 2 else r for i, r in enumerate(requests)]
    _check(real_store, mixed)


# -- refused requests, order, pinning --------------------------------------------------------

def _day(hours: Any, **more: Any) -> dict[str, Any]:
    return dict(policy="demo", action="day", as_of="2024-05-01",
                facts={"hours": hours, "kind": "a", **more}, lang="en")


REFUSED = [
    ("invalid_facts", {**_day("x")}),
    ("unknown_key", {**_day(7), "facts": {"hours": 7, "kind": "zz"}}),
    ("unknown_policy", {**_day(7), "policy": "nope"}),
    ("unknown_action", {**_day(7), "action": "nope"}),
    ("unknown_version", {**_day(7), "version": "1999-01"}),
    ("no_version_in_force", {**_day(7), "as_of": "2020-01-01"}),
    ("invalid_facts", {**_day(7), "as_of": "1.5.2024"}),
    ("invalid_facts", {**_day(7), "lang": "de"}),
    ("invalid_facts", {**_day(7), "facts": ["not", "a", "dict"]}),
]


@pytest.mark.parametrize("evaluator", EVALUATORS, ids=list(EVALUATORS))
def test_refused_requests_are_answered_in_their_place(demo_store, evaluator):
    requests = []
    for i, (_, refused) in enumerate(REFUSED):
        requests += [_day(4 + i), refused]
    requests.append(_day(9, start="2024-02-29", groups=["x"]))
    got = _check(demo_store, _with(requests, EVALUATORS[evaluator]))
    assert [g.code for g in got[1::2][:len(REFUSED)]] == [code for code, _ in REFUSED]
    decided = [g for g in got if isinstance(g, Decision)]
    assert [d.outcome for d in decided] == ["deny", "deny"] + ["allow"] * 8
    assert decided[-1].obligations[0].due == "2024-08-29"


def test_pinned_and_in_force_versions_side_by_side(demo_root):
    from tests.conftest import DEMO, write_policy

    write_policy(demo_root, DEMO.replace('version: "2024-01"', 'version: "2025-01"').replace(
        "effective_from: 2024-01-01", "effective_from: 2025-01-01").replace(
        "min_hours: 6", "min_hours: 4"), version="2025-01")
    store = PolicyStore.load(demo_root)
    try:
        requests = [_day(5, **{}) | {"as_of": day} | ({"version": pin} if pin else {})
                    for day in ("2024-05-01", "2025-05-01", "2023-05-01")
                    for pin in (None, "2024-01", "2025-01")]
        got = _check(store, requests)
        assert [(g.version, g.pinned, g.outcome) if isinstance(g, Decision) else g.code
                for g in got] == [
            ("2024-01", False, "deny"), ("2024-01", True, "deny"), ("2025-01", True, "allow"),
            ("2025-01", False, "allow"), ("2024-01", True, "deny"), ("2025-01", True, "allow"),
            "no_version_in_force", ("2024-01", True, "deny"), ("2025-01", True, "allow")]
    finally:
        store.close()


def test_version_chosen_by_a_date_fact(tmp_path):
    from tests.engine.test_decide import _versions_by_start

    store = _versions_by_start(tmp_path, "    version_by: start\n")
    try:
        starts = ("2024-11-01", "2025-02-01", None, "1.2.2025", "2025-02-01")
        requests = [_day(5, **({"start": s} if s else {})) | {"as_of": "2025-03-01"}
                    for s in starts]
        got = _check(store, requests)
        assert [g.version if isinstance(g, Decision) else g.code for g in got] == [
            "2024-01", "2025-01", "2025-01", "invalid_facts", "2025-01"]
        assert got[0].chosen_by == "start" and got[2].chosen_by == "as_of"
    finally:
        store.close()


def test_an_empty_batch_is_an_empty_list(demo_store):
    assert decide_many(demo_store, []) == []
    assert decide_many(demo_store, iter([_day(7)]))[0].outcome == "allow"
    from types import MappingProxyType

    assert decide_many(demo_store, [MappingProxyType(_day(5))])[0].outcome == "deny"


@pytest.mark.parametrize("request_, message", [
    ("not a dict", "request 1 is a str"),
    ({**_day(7), "colour": "red"}, "request 1: decide has no argument colour"),
    ({"policy": "demo", "action": "day"}, "request 1: missing as_of, facts"),
])
def test_a_request_that_is_not_decides_keywords_is_the_callers_mistake(demo_store, request_,
                                                                        message):
    with pytest.raises(TypeError, match=message):
        decide_many(demo_store, [_day(7), request_])


# -- durable_rules: many facts in one session ----------------------------------------------------

def test_more_facts_than_one_call_takes(demo_store, monkeypatch):
    """More distinct messages than :data:`CHUNK`: three calls of durable_rules."""
    calls = []
    real = DurableEvaluator._fired_chunk

    def chunk(self, prepared, bodies):
        calls.append(len(bodies))
        return real(self, prepared, bodies)

    monkeypatch.setattr(DurableEvaluator, "_fired_chunk", chunk)
    requests = [_day(h / 25, groups=["x"] * (h % 3), start="2024-03-31") for h in range(
        2 * CHUNK + 7)]
    got = _check(demo_store, requests)
    assert {g.outcome for g in got} == {"allow", "deny"}
    assert calls == [CHUNK, CHUNK, 7]


def test_a_failing_batch_call_is_decided_again_one_by_one(demo_store, monkeypatch):
    """If durable_rules fails on the list, each message is asserted alone: a message it
    refuses gets its own EvaluationError, the others their decisions."""
    calls = []

    def fail(self, prepared, messages):
        calls.append(len(messages))
        raise EvaluationError("rule engine failed: test")

    real = DurableEvaluator.fired

    def fired(self, prepared, message):
        if message.get("hours") == 13:
            raise EvaluationError("rule engine failed: one")
        return real(self, prepared, message)

    monkeypatch.setattr(DurableEvaluator, "fired_values", fail)
    monkeypatch.setattr(DurableEvaluator, "fired_many", fail)
    monkeypatch.setattr(DurableEvaluator, "fired", fired)
    got = _check(demo_store, [_day(5), _day(13), _day(7)])
    assert calls == [3]
    assert [g.outcome if isinstance(g, Decision) else g.code for g in got] == [
        "deny", "evaluation_failed", "allow"]


def test_fired_many_is_fired_of_each_message(real_store):
    """The evaluators' batch call against their single one, on the differential test's
    generated messages (text with quotes and backslashes, missing fields)."""
    from tests.engine.test_differential import PLANS, _messages

    durable, python = DurableEvaluator(), PythonEvaluator()
    rng = random.Random(SEED)
    for _, plan in PLANS[::3]:
        messages = _messages(plan, 60, rng)
        handle = durable.prepare(plan)
        try:
            want = [python.fired(plan, m) for m in messages]
            assert python.fired_many(plan, messages) == want
            assert durable.fired_many(handle, messages) == want
            assert durable.fired_values(handle, messages) == want     # a message is values
            assert [durable.fired(handle, m) for m in messages] == want   # session still sound
        finally:
            durable.release(handle)


def test_a_batch_leaves_no_fact_behind_in_the_session(demo_store):
    """Every fact a batch asserts is retracted: the session holds as many facts after two
    batches (the second reusing the places' ids) as after one decision."""
    import json

    from engine import durable_host

    decide(demo_store, **_day(7))
    prepared = next(iter(demo_store.current.prepared.values()))

    def held() -> int:
        return len(json.loads(durable_host._c.get_facts(prepared.handle, prepared.sid)))

    before = held()
    for _ in range(2):
        assert len(decide_many(demo_store, [_day(h) for h in range(CHUNK + 3)])) == CHUNK + 3
        assert held() == before


# -- identical messages: asserted once, answered each ------------------------------------------

def test_identical_requests_are_answered_each_in_their_place(demo_store):
    """A batch full of repeats (a month of one participant's days): every request gets what
    decide gives it, in order, refused ones among the repeats included."""
    requests = [_day(h) for h in (5, 7, 5, 5, 13, 7, 5)]
    requests[3:3] = [_day("x"), _day(5, kind="zz"), _day("x")]
    requests += [dict(r) for r in requests]
    got = _check(demo_store, requests)
    assert [g.code for g in got if isinstance(g, EngineError)] == [
        "invalid_facts", "unknown_key", "invalid_facts"] * 2
    decisions = [g for g in got if isinstance(g, Decision)]
    assert len(decisions) == 14 and {d.outcome for d in decisions} == {"deny", "allow"}
    # equal answers, never one object shared between two requests
    assert len({id(d) for d in decisions}) == len({id(d.results) for d in decisions}) == 14


def test_identical_messages_are_asserted_once_and_get_lists_of_their_own(demo_store,
                                                                        monkeypatch):
    from engine import backend

    plan = next(iter(demo_store.current.plans.values()))["day"]
    values = [dict(plan.constants, as_of=dt.date(2024, 5, 1), hours=h, kind="a")
              for h in (5, 7, 5, 5, 13, 7)]
    durable = DurableEvaluator()
    prepared = durable.prepare(plan)
    sizes = []
    real = DurableEvaluator._fired_chunk

    def chunk(self, prepared, bodies):
        sizes.append(len(bodies))
        return real(self, prepared, bodies)

    try:
        want = [durable.fired(prepared, backend.message_for(plan, v)) for v in values]
        monkeypatch.setattr(DurableEvaluator, "_fired_chunk", chunk)
        got = durable.fired_values(prepared, values)
        assert got == want and sizes == [3]
        assert len({id(f) for f in got}) == len(got)
        got[0].append(99)                          # one item's list is its own
        assert got[2] == want[2]
    finally:
        durable.release(prepared)
