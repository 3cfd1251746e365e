"""durable_rules' condition semantics in Python (engine/conditions.py)."""

from __future__ import annotations

import pytest

from engine.conditions import compile_condition, matches


@pytest.mark.parametrize("condition, message, expected", [
    ({"$lt": {"a": 5}}, {"a": 4}, True),
    ({"$lt": {"a": 5}}, {}, False),                                   # missing: false
    ({"$neq": {"a": 5}}, {}, False),                                  # even for !=
    ({"$ex": {"a": 1}}, {"a": None}, True),
    ({"$nex": {"a": 1}}, {"b": 1}, True),
    ({"$gte": {"a": {"$m": "b"}}}, {"a": 3, "b": 3}, True),
    ({"$gte": {"a": {"$m": "b"}}}, {"a": 3}, False),                  # other field missing
    ({"$or": [{"$eq": {"a": "x"}}, {"$and": [{"$gt": {"n": 1}}, {"$ex": {"s": 1}}]}]},
     {"n": 2, "s": "y"}, True),
])
def test_the_closure_decides_what_matches_decides(condition, message, expected):
    assert matches(condition, message) is expected
    assert compile_condition(condition)(message) is expected


def test_every_compiled_rule_agrees_on_every_fixture_message(real_store):
    from engine.derive import derive, message_for
    from engine.errors import EngineError
    from engine.facts import check_facts
    from engine.fixtures import load_cases
    from tests.conftest import FIXTURES

    cases, _ = load_cases([FIXTURES])
    checked = 0
    for case in cases:
        plan = real_store.current.plan(real_store.get_version(case.policy, case.version),
                                       case.action)
        try:
            message = message_for(plan, derive(plan, check_facts(plan.action, case.facts),
                                               case.as_of))
        except EngineError:
            continue
        for rule in plan.rules:
            assert rule.match(message) == matches(rule.condition, message), rule.rule.id
            checked += 1
    assert checked > 4000
