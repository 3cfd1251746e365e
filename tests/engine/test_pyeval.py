from engine.pyeval import PythonEvaluator, matches


def test_missing_fields_make_every_comparison_false():
    for op in ("$lt", "$lte", "$gt", "$gte", "$eq", "$neq"):
        assert matches({op: {"a": 1}}, {}) is False
        assert matches({op: {"a": {"$m": "b"}}}, {"a": 1}) is False


def test_presence_and_boolean_structure():
    assert matches({"$ex": {"a": 1}}, {"a": 0}) and matches({"$nex": {"a": 1}}, {})
    assert matches({"$or": [{"$eq": {"a": 1}}, {"$eq": {"a": 2}}]}, {"a": 2})
    assert not matches({"$and": [{"$eq": {"a": 1}}, {"$gt": {"b": 1}}]}, {"a": 1, "b": 1})


def test_iso_dates_compare_as_text():
    assert matches({"$lt": {"d": {"$m": "as_of"}}}, {"d": "2025-03-31", "as_of": "2025-04-01"})


def test_evaluator_interface(demo_store):
    plan = demo_store.current.plans[("demo", "2024-01")]["day"]
    ev = PythonEvaluator()
    fired = ev.fired(ev.prepare(plan), {"as_of": "2024-05-01", "hours": 5, "kind": "a",
                                        "paid": True})
    assert [plan.rules[i].rule.id for i in fired] == ["TT-1-short", "TT-4-size"]
