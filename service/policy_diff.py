"""A semantic diff of two versions of one policy: what a planner reviews before a release.

It compares the versions' public descriptions, not their files, so reordering keys or
rewording comments shows nothing, while a changed parameter, fact or rule condition does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["diff_versions"]


def diff_versions(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` and ``new`` are ``PolicyVersion.describe()`` outputs of the same policy."""
    return {
        "policy": new["policy"],
        "from_": old["version"],
        "to_": new["version"],
        "parameters": _diff_mapping(old.get("parameters", {}), new.get("parameters", {})),
        "actions": _diff_mapping(old.get("actions", {}), new.get("actions", {})),
        "rules": _diff_rules(old.get("rules", []), new.get("rules", [])),
    }


def _diff_mapping(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Names added (with value), removed (with value) and changed (from → to)."""
    return {
        "added": {k: new[k] for k in new if k not in old},
        "removed": {k: old[k] for k in old if k not in new},
        "changed": {k: {"from": old[k], "to": new[k]}
                    for k in new if k in old and old[k] != new[k]},
    }


def _diff_rules(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    """Rules by stable id; a changed rule lists each changed field with both values."""
    before = {r["id"]: r for r in old}
    after = {r["id"]: r for r in new}
    changed = []
    for rule_id, rule in after.items():
        if rule_id in before and before[rule_id] != rule:
            fields = sorted(set(rule) | set(before[rule_id]))
            changed.append({
                "id": rule_id,
                "fields": {f: {"from": before[rule_id].get(f), "to": rule.get(f)}
                           for f in fields if before[rule_id].get(f) != rule.get(f)},
            })
    return {
        "added": [r for r in new if r["id"] not in before],
        "removed": [r for r in old if r["id"] not in after],
        "changed": changed,
    }
