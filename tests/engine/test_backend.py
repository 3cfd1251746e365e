import re
import threading

import pytest

from engine.backend import DurableEvaluator
from engine.errors import EvaluationError


def _plan(store):
    return store.current.plans[("demo", "2024-01")]["day"]


def test_every_matching_rule_fires_and_no_match_is_safe(demo_store):
    plan = _plan(demo_store)
    ev = DurableEvaluator()
    handle = ev.prepare(plan)
    try:
        msg = {"as_of": "2024-05-01", "hours": 5, "kind": "b", "paid": False}
        assert [plan.rules[i].rule.id for i in ev.fired(handle, msg)] == [
            "TT-1-short", "TT-2-unpaid", "TT-4-size"]
        # the same content twice must not be "already observed"
        assert ev.fired(handle, msg) == ev.fired(handle, msg)
        # a request that matches only the always-rule, many times: the sentinel keeps it safe
        for _ in range(2000):
            assert len(ev.fired(handle, {"as_of": "2024-05-01", "hours": 7, "kind": "a",
                                         "paid": True})) == 1
    finally:
        ev.release(handle)


def test_release_removes_the_ruleset(demo_store):
    ev = DurableEvaluator()
    handle = ev.prepare(_plan(demo_store))
    assert handle.name in ev.registered()
    ev.release(handle)
    assert handle.name not in ev.registered()
    ev.release(handle)                       # twice is harmless
    with pytest.raises(EvaluationError):
        ev.fired(handle, {"as_of": "2024-05-01"})


def test_threads_get_correct_answers(demo_store):
    plan = _plan(demo_store)
    ev = DurableEvaluator()
    handle = ev.prepare(plan)
    wrong = []

    def work(hours):
        for _ in range(300):
            fired = ev.fired(handle, {"as_of": "2024-05-01", "hours": hours, "kind": "a",
                                      "paid": True})
            if (0 in fired) != (hours < 6):
                wrong.append(hours)

    threads = [threading.Thread(target=work, args=(h,)) for h in (3, 5, 6, 9) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ev.release(handle)
    assert wrong == []


def test_only_the_durable_host_imports_durable():
    import pathlib

    engine_dir = pathlib.Path(__file__).resolve().parents[2] / "engine"
    imports = re.compile(r"^\s*(import durable|from durable)\b", re.M)
    importers = sorted(p.name for p in engine_dir.glob("*.py") if imports.search(p.read_text()))
    assert importers == ["durable_host.py"]


def test_engine_never_imports_flask_or_sqlalchemy():
    import pathlib

    engine_dir = pathlib.Path(__file__).resolve().parents[2] / "engine"
    for p in engine_dir.glob("*.py"):
        text = p.read_text()
        for mod in ("import flask", "from flask", "import sqlalchemy", "from sqlalchemy",
                    "import service", "from service"):
            assert mod not in text, f"{p.name} has {mod!r}"


def test_floats_reach_the_engine_without_exponents(demo_store):
    from engine.backend import dumps

    assert dumps({"x": 1e-05, "y": 2.5, "s": 'a"ä'}) == '{"x":0.00001,"y":2.5,"s":"a\\"ä"}'
    plan = _plan(demo_store)
    ev = DurableEvaluator()
    handle = ev.prepare(plan)
    try:
        fired = ev.fired(handle, {"as_of": "2024-05-01", "hours": 1e-05, "kind": "a",
                                  "paid": True})
        assert [plan.rules[i].rule.id for i in fired] == ["TT-1-short", "TT-4-size"]
    finally:
        ev.release(handle)


def test_missing_right_hand_field_never_matches_with_the_compiler_guard(tmp_path):
    """durable_rules read a stale value for a missing ``$m`` field; the compiler guards it."""
    from engine import PolicyStore, decide
    from tests.conftest import DEMO, write_policy

    extra = "".join(f"      {n}: {{type: date, optional: true}}\n" for n in "abcd")
    text = DEMO.replace("      code: {type: hetu, optional: true}\n",
                        "      code: {type: hetu, optional: true}\n" + extra)
    text = text.replace("when: hours < min_hours", "when: a > b").replace(
        "when: length(groups) > 2 or contains(groups, \"x\")", "when: c > d")
    store = PolicyStore.load(write_policy(tmp_path, text).parent.parent)
    try:
        d = decide(store, policy="demo", action="day", as_of="2024-05-01",
                   facts={"hours": 7, "kind": "a", "a": "2015-09-16", "b": "2015-04-26",
                          "c": "2014-06-05"})
        assert d.fired == ("TT-1-short", "TT-4-size")
    finally:
        store.close()


def test_a_session_whose_decisions_match_nothing_is_deleted_safely(tmp_path):
    """durable-rules.md §2: deleting a session in which no action ran frees uninitialised
    memory. The sentinel fires on a session's first fact only, so a ruleset whose every
    decision matches nothing, released again and again, must neither crash nor answer
    anything but "no rule"."""
    from engine import PolicyStore
    from tests.conftest import DEMO, write_policy

    one_rule = DEMO[:DEMO.index("rules:")] + """rules:
  - id: TT-1-short
    action: day
    when: hours < min_hours
    effect: deny
    cite: {seed: "004", section: "4.2"}
    message: {fi: "Lyhyt {size_min}", sv: "Kort", en: "Short"}
"""
    write_policy(tmp_path / "p", one_rule)
    store = PolicyStore.load(tmp_path / "p")
    try:
        plan = _plan(store)
        ev = DurableEvaluator()
        for round_ in range(200):
            handle = ev.prepare(plan)
            try:
                for _ in range(3):
                    assert ev.fired(handle, {"as_of": "2024-05-01", "hours": 7}) == []
                if round_ % 2:
                    assert ev.fired(handle, {"as_of": "2024-05-01", "hours": 5}) == [0]
            finally:
                ev.release(handle)
    finally:
        store.close()


def test_the_written_message_is_what_dumps_writes(real_store):
    """``Prepared.write`` (the message JSON straight from the values) against
    ``dumps(message_for(plan, values))`` on the differential test's messages, with values the
    writer leaves to dumps (floats with exponents, NaN, dates, tables, None) mixed in."""
    import datetime as dt
    import random

    from engine.backend import dumps
    from engine.derive import message_for
    from tests.engine.test_differential import PLANS, _messages

    durable, rng = DurableEvaluator(), random.Random(20261206)
    fast = 0
    odd = [1e-05, 2.5e20, float("nan"), -0.0, 0.5, dt.date(2024, 5, 1), None, [1], True,
           7, 'q"\\ä\n']
    written = left = 0
    for _, plan in PLANS:
        prepared = durable.prepare(plan)
        try:
            fields = [*plan.message_fields[0], *plan.message_fields[1]]
            fast += prepared.write.__name__ == "write"       # the plan has a fast path
            for message in _messages(plan, 20, rng):
                values = {**plan.constants, **message, "as_of": dt.date(2025, 1, 1)}
                for name in fields:        # dates as derive leaves them, now and then
                    if (plan.fields[name] == "date" and isinstance(values.get(name), str)
                            and rng.random() < 0.7):
                        try:
                            values[name] = dt.date.fromisoformat(values[name])
                        except ValueError:
                            pass
                if fields and rng.random() < 0.3:
                    values[rng.choice(fields)] = rng.choice(odd)
                text = prepared.write(values)
                if text is None:
                    left += 1
                else:
                    written += 1
                    assert text == dumps(message_for(plan, values)), values
        finally:
            durable.release(prepared)
    assert written > 100 and left > 0 and fast > 5


# -- exclusive $or branches ---------------------------------------------------------------------

_THREE = {"$and": [{"$eq": {"p": 8}}, {"$or": [{"$neq": {"s": "t"}}, {"$neq": {"h": "w"}},
                                               {"$neq": {"w": False}}]}]}


def test_or_branches_are_made_exclusive_and_an_in_list_is_left_alone():
    from engine.backend import _exclusive

    branches = _exclusive(_THREE)["$and"][1]["$or"]
    assert branches[0] == {"$neq": {"s": "t"}}
    not_first = {"$or": [{"$nex": {"s": 1}}, {"$eq": {"s": "t"}}]}
    assert branches[1] == {"$and": [not_first, {"$neq": {"h": "w"}}]}
    assert branches[2] == {"$and": [not_first, {"$or": [{"$nex": {"h": 1}}, {"$eq": {"h": "w"}}]},
                                    {"$neq": {"w": False}}]}
    in_list = {"$or": [{"$eq": {"k": "a"}}, {"$eq": {"k": "b"}}, {"$eq": {"k": "c"}}]}
    assert _exclusive(in_list) == in_list
    # a branch that is not a comparison with a constant is not complemented
    field = {"$or": [{"$lt": {"a": {"$m": "b"}}}, {"$gt": {"a": 3}}]}
    assert _exclusive(field) == field


def test_a_rule_with_exclusive_branches_fires_once_and_exactly_where_it_matched():
    """Every message of three fields each missing, true or false for its branch: durable
    fires the rewritten rule at most once, and exactly where the written condition holds."""
    import itertools
    import json

    from engine import durable_host
    from engine.backend import GUARD, OPENS, _action_name, _exclusive
    from engine.conditions import matches

    def nothing(c):
        return None

    name = "exclusive-or-test"
    handle = durable_host.register(name, {
        "r0": {"all": [{"m": {"$and": [GUARD, _exclusive(_THREE)]}}], "run": nothing},
        "sentinel": {"pri": 1_000_000, "run": nothing,
                     "all": [{"m": {"$and": [GUARD, {"$ex": {OPENS: 1}}]}}]}})
    try:
        choices = [(None, "t", "x"), (None, "w", "y"), (None, False, True)]
        for n, (s, h, w) in enumerate(itertools.product(*choices)):
            message = {k: v for k, v in {"p": 8, "s": s, "h": h, "w": w}.items()
                       if v is not None}
            fact = json.dumps({**message, "id": f"x{n}", "sid": "s",
                               **({OPENS: 1} if n == 0 else {})})
            state = durable_host.assert_fact(handle, fact)
            names = [] if state is None else [
                _action_name(m) for m in durable_host.fired_actions(handle, state)]
            assert names.count("r0") == (1 if matches(_THREE, message) else 0), message
            durable_host.retract_fact(handle, json.dumps({"id": f"x{n}", "sid": "s"}))
    finally:
        durable_host.delete_state(handle, "s")
        durable_host.delete_ruleset(name)


@pytest.mark.parametrize("limit", ["simultaneous_matches", "distinct_conditions",
                                   "missing_tests"])
def test_conditions_stay_as_written_where_the_rewrite_would_cross_a_limit(real_store, limit,
                                                                          monkeypatch):
    """A plan whose rewritten conditions would cross one of the compiler's limits (here made
    tiny) is registered with its conditions as written."""
    from engine.backend import LIMITS, _conditions

    with real_store.using() as policy_set:
        plans = [p.plan for p in policy_set.prepared.values()]
    rewritten = [p for p in plans if _conditions(p) != [r.condition for r in p.rules]]
    assert rewritten, "no plan of the policies has an $or to make exclusive"
    monkeypatch.setitem(LIMITS, limit, 0)
    for plan in rewritten:
        assert _conditions(plan) == [r.condition for r in plan.rules]
