"""Overlay versions (engine/overlay.py), through the loader as a planner uses them."""

from __future__ import annotations

from pathlib import Path

from engine.store import load_folder
from tests.conftest import DEMO, write_policy

OVERLAY = '''\
policy: demo
version: "2025-01"
extends: "2024-01"
effective_from: 2025-01-01
changes:
  - {fi: Muutos, sv: Ändring, en: Change}
parameters:
  min_hours: 5
  types:
    a: {max_size: 10}
    c: {min_size: 1, max_size: 2}
actions:
  day:
    facts:
      note: {type: string, optional: true}
rules:
  - id: TT-1-new-before-short
    action: day
    when: note is present
    effect: info
    cite: {seed: "004", section: "9"}
    message: {fi: "Huom", sv: "Obs", en: "Note"}
  - id: TT-1-short
    action: day
    when: hours < min_hours
    effect: warn
    cite: {seed: "004", section: "4.2 (2025)"}
    message: {fi: "Lyhyt", sv: "Kort", en: "Short"}
remove:
  rules: [TT-2-unpaid]
'''


def _load(root: Path):
    _, policies, _, problems = load_folder(root)
    return {v.version: v for p in policies.values() for v in p.versions}, problems


def test_an_overlay_resolves_into_a_full_version(tmp_path):
    write_policy(tmp_path)
    write_policy(tmp_path, OVERLAY, version="2025-01")
    versions, problems = _load(tmp_path)
    assert problems == []
    base, new = versions["2024-01"], versions["2025-01"]
    assert new.extends == "2024-01" and new.title == base.title
    assert new.parameters["min_hours"] == 5
    assert new.parameters["types"] == {"a": {"min_size": 6, "max_size": 10},
                                       "b": {"min_size": 4, "max_size": 8},
                                       "c": {"min_size": 1, "max_size": 2}}
    assert set(new.actions["day"].facts) == set(base.actions["day"].facts) | {"note"}
    assert [r.id for r in new.rules] == ["TT-1-new-before-short", "TT-1-short",
                                         *[r.id for r in base.rules[2:]]]
    assert new.rules[1].effect == "warn" and base.rules[0].effect == "deny"
    assert [c["en"] for c in new.changes] == ["Change"] and base.changes == ()
    assert new.path.endswith("2025-01.yaml") and new.rules[2].line == base.rules[2].line


def test_a_chain_of_overlays_and_its_digests(tmp_path):
    write_policy(tmp_path)
    write_policy(tmp_path, OVERLAY, version="2025-01")
    third = ('policy: demo\nversion: "2026-01"\nextends: "2025-01"\n'
             "effective_from: 2026-01-01\nparameters: {min_hours: 4}\n")
    write_policy(tmp_path, third, version="2026-01")
    versions, problems = _load(tmp_path)
    assert problems == [] and versions["2026-01"].parameters["min_hours"] == 4
    assert versions["2026-01"].parameters["types"]["c"] == {"min_size": 1, "max_size": 2}
    assert versions["2026-01"].changes == ()       # notes belong to the version that wrote them
    before = versions["2026-01"].digest
    write_policy(tmp_path, DEMO + "# a comment in the base\n")
    after, _ = _load(tmp_path)
    assert after["2026-01"].digest != before       # the base is part of what it decides


def test_a_mistake_in_the_overlay_is_reported_at_the_overlay(tmp_path):
    write_policy(tmp_path)
    broken = OVERLAY.replace("    when: note is present", "    when: nope is present")
    path = write_policy(tmp_path, broken, version="2025-01")
    _, problems = _load(tmp_path)
    assert [(Path(p.path).name, p.line) for p in problems] == [("2025-01.yaml", 19)]
    assert "unknown name 'nope'" in problems[0].message and str(path) == problems[0].path


def test_a_mistake_in_the_base_is_reported_once_at_the_base(tmp_path):
    write_policy(tmp_path, DEMO.replace("when: start is present", "when: strat is present"))
    write_policy(tmp_path, OVERLAY, version="2025-01")
    _, problems = _load(tmp_path)
    assert [(Path(p.path).name, p.code) for p in problems] == [
        ("2024-01.yaml", "bad_expression"), ("2025-01.yaml", "base_broken")]


def test_removing_a_parameter_still_read_is_one_problem_at_the_remove_line(tmp_path):
    write_policy(tmp_path)
    write_policy(tmp_path, OVERLAY.replace("  rules: [TT-2-unpaid]",
                                           "  parameters: [min_hours]")
                 .replace("  min_hours: 5\n", ""), version="2025-01")
    _, problems = _load(tmp_path)
    # one problem, at the overlay's remove: line, naming every reader (base and overlay)
    [problem] = problems
    assert (Path(problem.path).name, problem.line, problem.code) == (
        "2025-01.yaml", OVERLAY.count("\n", 0, OVERLAY.index("  rules: [TT-2-unpaid]")),
        "removed_but_read")
    assert problem.message.startswith("remove: min_hours is still read by check size-range")
    assert "rule TT-1-short: when (" in problem.message and "take those away" in problem.message


def test_overlay_only_keys_do_not_survive(tmp_path):
    write_policy(tmp_path)
    write_policy(tmp_path, OVERLAY, version="2025-01")
    versions, _ = _load(tmp_path)
    assert "remove" not in versions["2025-01"].describe()
