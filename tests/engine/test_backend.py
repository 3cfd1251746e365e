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
