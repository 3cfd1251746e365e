"""Each comparison of a rule's condition with its threshold (engine/comparisons.py)."""

from __future__ import annotations

from engine import decide
from engine import expressions as ex
from engine.comparisons import MASK, Comparison, comparisons, source_of

POLICY = "tyokokeilu-tyohonvalmennus"


def tree(text: str):
    return ex.negation_normal_form(ex.parse(text))


def test_a_threshold_from_a_parameter_is_named():
    found = comparisons(tree("hours_total != rehab_day_hours"), {"hours_total": 7},
                        {"rehab_day_hours": 6})
    assert found == (Comparison("hours_total", 7, "!=", "rehab_day_hours", 6,
                                ("rehab_day_hours",), True),)
    assert found[0].text() == "hours_total = 7 ≠ 6 (rehab_day_hours)"
    assert found[0].to_dict()["symbol"] == "≠"


def test_a_comparison_that_does_not_hold_and_a_missing_value():
    when = tree("hours < min_hours or note is present")
    first, second = comparisons(when, {"hours": 7}, {"min_hours": 6})
    assert (first.op, first.holds, first.text()) == ("<", False, "hours = 7 < 6 (min_hours)")
    assert (second.op, second.holds, second.left_value) == ("is present", False, None)
    assert second.text() == "note = — is present"
    # a missing value makes the comparison false, as the engines decide it
    (only,) = comparisons(tree("hours < min_hours"), {}, {"min_hours": 6})
    assert only.holds is False and only.left_value is None


def test_not_is_pushed_down_and_a_constant_on_the_left_is_turned_round():
    (c,) = comparisons(tree("not (6 > hours)"), {"hours": 7}, {})
    assert (c.left, c.op, c.right, c.right_value, c.holds) == ("hours", ">=", None, 6, True)
    (c,) = comparisons(tree("limit <= hours"), {"hours": 7}, {"limit": 8})
    assert (c.left, c.op, c.right, c.holds) == ("hours", ">=", "limit", False)


def test_a_threshold_read_through_a_derived_value_and_a_table_lookup():
    max_days = {"a": 45, "b": 95}
    derived = [ex_derived("service_max_days", "lookup(max_days, service)")]
    when = tree("days_used_before >= service_max_days")
    (c,) = comparisons(when, {"days_used_before": 50, "service_max_days": 45}, {
        "max_days": max_days}, derived=derived)
    assert c.parameters == ("max_days",) and c.holds is True
    assert c.text() == "days_used_before = 50 ≥ 45 (service_max_days, max_days)"
    # a computed threshold straight from a table
    (c,) = comparisons(tree("days < lookup(max_days, kind)"), {"days": 3, "kind": "b"},
                       {"max_days": max_days})
    assert (c.right, c.right_value, c.parameters) == ("lookup(max_days, kind)", 95,
                                                      ("max_days",))


def test_membership_and_lists():
    (c,) = comparisons(tree('kind in ["a", "b"]'), {"kind": "c"}, {})
    assert (c.op, c.right, c.right_value, c.holds) == ("in", '["a", "b"]', ["a", "b"], False)
    (c,) = comparisons(tree("reason not in accepted"), {"reason": "x"}, {"accepted": ["y"]})
    assert (c.op, c.right, c.parameters, c.holds) == ("not in", "accepted", ("accepted",), True)


def test_a_personal_value_is_never_shown_nor_judged():
    (c,) = comparisons(tree("code is present and not valid_hetu(code)"),
                       {"code": "131052-308T"}, {}, hidden={"code"})[1:]
    assert c.left_value == MASK and c.holds is None
    assert "131052" not in repr(comparisons(tree("code is present"), {"code": "131052-308T"},
                                            {}, hidden={"code"}))


def test_a_rule_without_a_condition_compares_nothing():
    assert comparisons(None, {}, {}) == ()
    assert comparisons(tree("true"), {}, {}) == ()


def test_source_is_written_as_a_planner_would():
    assert source_of(ex.parse("add_months(start, 6) + (a - b) * 2")) == \
        "add_months(start, 6) + (a - b) * 2"
    assert source_of(ex.parse('"x"')) == '"x"'


def test_on_a_real_decision_the_trace_values_give_the_comparisons(real_store):
    """The values a decision's trace read are all the comparisons need."""
    facts = {"service": "tyokokeilu", "hours_total": 7, "hours_at_workplace": 6}
    decision = decide(real_store, policy=POLICY, action="rehab_day", as_of="2025-03-10",
                      facts=facts, explain=True)
    version = real_store.get_version(POLICY, decision.version)
    assert decision.version == "2023-01"
    action = version.actions["rehab_day"]
    rules = {r.id: r for r in version.rules_for("rehab_day")}
    for entry in decision.trace:
        found = comparisons(rules[entry.rule].when, entry.reads, version.parameters,
                            action.derived, action.personal)
        if entry.rule == "TT-1-day-length":
            assert [c.text() for c in found] == [
                "sick = false = false", "flex_day = false = false",
                "hours_total = 7 ≠ 6 (rehab_day_hours)"]
            assert all(c.holds for c in found) and entry.fired
        if entry.fired and rules[entry.rule].when is not None:
            # a fired rule whose condition is a plain "and": every comparison holds
            if isinstance(rules[entry.rule].when, ex.BoolOp) and \
                    rules[entry.rule].when.op == "and":
                assert all(c.holds for c in found), entry.rule


def ex_derived(name: str, source: str):
    from engine.model import Derived
    node = ex.parse(source)
    return Derived(name, source, node, "any", tuple(ex.names_in(node)))
