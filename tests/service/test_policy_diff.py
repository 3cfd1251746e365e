"""The semantic diff of two version descriptions (service/policy_diff.py)."""

from __future__ import annotations

from service.policy_diff import diff_versions


def version(name, parameters, rules, facts=None):
    return {"policy": "p", "version": name, "parameters": parameters,
            "actions": {"a": {"facts": facts or {"x": {"type": "number"}}}}, "rules": rules}


def rule(rid, when="x > 1", **extra):
    return {"id": rid, "actions": ["a"], "effect": "deny", "when": when, **extra}


def test_same_version_has_no_differences():
    v = version("1", {"n": 1}, [rule("AB-1")])
    diff = diff_versions(v, v)
    assert diff["parameters"] == {"added": {}, "removed": {}, "changed": {}}
    assert diff["rules"] == {"added": [], "removed": [], "changed": []}


def test_changes_are_named_field_by_field():
    old = version("1", {"n": 1, "gone": [1]}, [rule("AB-1"), rule("AB-2")])
    new = version("2", {"n": 2, "new": {"k": 1}}, [rule("AB-1", when="x > 2"), rule("AB-3")],
                  facts={"x": {"type": "integer"}})
    diff = diff_versions(old, new)
    assert (diff["from_"], diff["to_"]) == ("1", "2")
    assert diff["parameters"] == {"added": {"new": {"k": 1}}, "removed": {"gone": [1]},
                                  "changed": {"n": {"from": 1, "to": 2}}}
    assert diff["rules"]["changed"] == [
        {"id": "AB-1", "fields": {"when": {"from": "x > 1", "to": "x > 2"}}}]
    assert [r["id"] for r in diff["rules"]["added"]] == ["AB-3"]
    assert [r["id"] for r in diff["rules"]["removed"]] == ["AB-2"]
    assert list(diff["actions"]["changed"]) == ["a"]


def test_reordering_rules_is_not_a_change():
    a, b = rule("AB-1"), rule("AB-2")
    diff = diff_versions(version("1", {}, [a, b]), version("2", {}, [b, a]))
    assert diff["rules"] == {"added": [], "removed": [], "changed": []}
