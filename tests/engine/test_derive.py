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
