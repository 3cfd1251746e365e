"""Checked facts → values → the engine's message (engine/derive.py)."""

import datetime as dt

import pytest

from engine.derive import derive, message_for
from engine.errors import FactError
from engine.facts import check_facts


def _action(store):
    return store.current.plans[("demo", "2024-01")]["day"]


def test_unknown_table_key_names_the_fact_and_known_keys(demo_store):
    plan = _action(demo_store)
    facts = check_facts(plan.action, {"hours": 5, "kind": "zz"})
    with pytest.raises(FactError) as info:
        derive(plan, facts, dt.date(2024, 5, 1))
    assert info.value.code == "unknown_key"
    assert info.value.errors == {"kind": ["'zz' is not a known value; known: a, b"]}


def test_message_is_flat_scalars_without_missing(demo_store):
    plan = _action(demo_store)
    facts = check_facts(plan.action, {"hours": 5, "kind": "a", "groups": ["p", "q", "r"]})
    msg = message_for(plan, derive(plan, facts, dt.date(2024, 5, 1)))
    # only what some condition reads: size_min is read by a result rule's set:, not a when:
    assert msg == {"as_of": "2024-05-01", "hours": 5, "kind": "a", "paid": False,
                   "_h1": 3, "_h2": False}


def test_the_typed_message_equals_the_generic_one_on_every_fixture(real_store):
    """``message_for`` trusts the checked types of text, numbers and yes/no; this is the
    check that the trust holds: the message is what looking at every value would give."""
    from engine.errors import EngineError
    from engine.expressions import Table
    from engine.fixtures import load_cases
    from engine.model import json_value
    from tests.conftest import FIXTURES

    def generic(plan, values):
        return {n: json_value(values[n]) for n in plan.fields
                if values.get(n) is not None
                and not isinstance(values[n], (list, dict, tuple, Table))}

    cases, _ = load_cases([FIXTURES])
    compared = 0
    for case in cases:
        plan = real_store.current.plan(real_store.get_version(case.policy, case.version),
                                       case.action)
        try:
            values = derive(plan, check_facts(plan.action, case.facts), case.as_of)
        except EngineError:
            continue
        message = message_for(plan, values)
        assert message == generic(plan, values), case.name
        assert all(type(v) in (str, int, float, bool) for v in message.values()), case.name
        compared += 1
    assert compared > 400
