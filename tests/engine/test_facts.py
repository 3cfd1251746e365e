import datetime as dt

import pytest

from engine.errors import FactError
from engine.facts import check_facts, derive, message_for, parse_date


def _action(store):
    return store.current.plans[("demo", "2024-01")]["day"]


def test_coercion_and_defaults(demo_store):
    spec = _action(demo_store).action
    out = check_facts(spec, {"hours": 6.0, "kind": "a", "start": "2024-02-29"})
    assert out == {"hours": 6.0, "kind": "a", "paid": False, "start": dt.date(2024, 2, 29)}


@pytest.mark.parametrize("facts,field,message", [
    ({"kind": "a"}, "hours", "required (number)"),
    ({"hours": "7", "kind": "a"}, "hours", "must be a number"),
    ({"hours": True, "kind": "a"}, "hours", "must be a number"),
    ({"hours": float("nan"), "kind": "a"}, "hours", "must be a finite number"),
    ({"hours": 25, "kind": "a"}, "hours", "must be at most 24"),
    ({"hours": 5, "kind": 3}, "kind", "must be text"),
    ({"hours": 5, "kind": "a", "paid": "yes"}, "paid", "must be true or false"),
    ({"hours": 5, "kind": "a", "start": "1.2.2024"}, "start", "YYYY-MM-DD"),
    ({"hours": 5, "kind": "a", "start": "2024-02-30"}, "start", "day is out of range"),
    ({"hours": 5, "kind": "a", "groups": "x"}, "groups", "must be a list of string"),
    ({"hours": 5, "kind": "a", "groups": ["x", 1]}, "groups", "item 2 must be text"),
    ({"hours": 5, "kind": "a", "hourz": 1}, "hourz", "not a fact of action day"),
])
def test_errors_name_the_fact(demo_store, facts, field, message):
    with pytest.raises(FactError) as info:
        check_facts(_action(demo_store).action, facts)
    assert field in info.value.errors
    assert message in info.value.errors[field][0]
    assert info.value.code == "invalid_facts"


def test_not_an_object(demo_store):
    with pytest.raises(FactError) as info:
        check_facts(_action(demo_store).action, ["hours"])
    assert "facts" in info.value.errors


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
    assert msg == {"as_of": "2024-05-01", "hours": 5, "kind": "a", "paid": False,
                   "size_min": 6, "_h1": 3, "_h2": False}


def test_parse_date():
    assert parse_date("2025-04-01") == dt.date(2025, 4, 1)
    for bad in ("2025-4-1", "20250401", 20250401, None, "2025-04-01T00:00", "2025-W14-2",
                "２０２５-04-01"):
        with pytest.raises(ValueError):
            parse_date(bad)


def test_lone_surrogates_are_refused(demo_store):
    with pytest.raises(FactError) as info:
        check_facts(_action(demo_store).action, {"hours": 5, "kind": "\ud800"})
    assert "not valid Unicode" in info.value.errors["kind"][0]
