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


# -- the one merge rule ----------------------------------------------------------------------

MERGE_BASE = '''\
policy: demo
version: "2024-01"
effective_from: 2024-01-01
title: {fi: Demo, sv: Demo, en: Demo}
source: {document: Demo, revision: "1", url: "https://www.kela.fi/demo", seed: "001", note: N}
parameters:
  max_days: {a: 45, b: 95}
  areas: [x, y]
  types:
    a: {min_size: 6, max_size: 12}
    b: {min_size: 4, max_size: 8}
actions:
  day:
    facts:
      kind: {type: string, one_of: max_days}
      used: {type: integer, min: 0, max: 400}
      area: {type: string, one_of: [x, y, z]}
    derive:
      limit: lookup(max_days, kind)
      small: lookup(types, kind, "min_size") > lookup(types, kind, "max_size") - 6
rules:
  - id: TT-4-max
    action: day
    when: used >= limit or small or area in areas
    effect: deny
    cite: {seed: "004", section: "4"}
    message: {fi: "{limit}", sv: "{limit}", en: "{limit}"}
'''


def _merged(tmp_path, overlay):
    write_policy(tmp_path, MERGE_BASE)
    write_policy(tmp_path, 'policy: demo\nversion: "2025-01"\nextends: "2024-01"\n'
                 "effective_from: 2025-01-01\n" + overlay, version="2025-01")
    return _load(tmp_path)


def test_every_mapping_merges_by_key_at_every_depth(tmp_path):
    versions, problems = _merged(tmp_path, '''\
source: {revision: "2"}
parameters:
  max_days: {a: 50}
  types:
    b: {max_size: 9}
actions:
  day:
    facts:
      used: {max: 300}
''')
    assert problems == []
    new = versions["2025-01"]
    assert new.source == {"document": "Demo", "revision": "2", "url": "https://www.kela.fi/demo",
                          "seed": "001", "note": "N"}
    assert new.parameters["max_days"] == {"a": 50, "b": 95}          # the other row stays
    assert new.parameters["types"]["b"] == {"min_size": 4, "max_size": 9}
    used = new.actions["day"].facts["used"]
    assert (used.type, used.min, used.max) == ("integer", 0, 300)
    assert new.actions["day"].facts["kind"].one_of == ("a", "b")


def test_remove_takes_rows_keys_and_list_items_away_by_name(tmp_path):
    versions, problems = _merged(tmp_path, '''\
remove:
  parameters.max_days: [b]
  parameters.areas: [y]
  actions.day.facts: [area]
rules:
  - id: TT-4-max
    action: day
    when: used >= limit or small
    effect: deny
    cite: {seed: "004", section: "4"}
    message: {fi: "{limit}", sv: "{limit}", en: "{limit}"}
parameters:
  areas: [x]
''')
    assert problems[0].code == "unread_parameter" and len(problems) == 1     # areas: unread now
    versions, problems = _merged(tmp_path, '''\
remove:
  parameters.max_days: [b]
  parameters.areas: [y]
''')
    assert problems == []
    new = versions["2025-01"]
    assert new.parameters["max_days"] == {"a": 45} and new.parameters["areas"] == ["x"]
    assert new.actions["day"].facts["kind"].one_of == ("a",)


def test_removing_and_writing_anew_replaces_whole(tmp_path):
    versions, problems = _merged(tmp_path, '''\
remove:
  parameters: [max_days]
parameters:
  max_days: {c: 10}
''')
    assert problems == []
    assert versions["2025-01"].parameters["max_days"] == {"c": 10}


def test_a_list_that_leaves_out_the_bases_items_asks(tmp_path):
    _, problems = _merged(tmp_path, "actions:\n  day:\n    facts:\n      area: {one_of: [x, w]}\n")
    [problem] = problems
    assert problem.code == "list_dropped" and problem.path.endswith("2025-01.yaml")
    assert "leaves out y, z of version 2024-01's list" in problem.message
    assert "remove: {actions.day.facts.area.one_of: [y, z]}" in problem.message


def test_a_one_of_may_switch_between_a_list_and_a_parameter(tmp_path):
    versions, problems = _merged(tmp_path, '''\
parameters:
  all_areas: [x, y, z, w]
actions:
  day:
    facts:
      area: {one_of: all_areas}
''')
    assert problems == []
    area = versions["2025-01"].actions["day"].facts["area"]
    assert (area.one_of, area.one_of_from) == (("x", "y", "z", "w"), "all_areas")
