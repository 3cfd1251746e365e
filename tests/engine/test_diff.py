"""The difference between two resolved versions of a policy (engine/diff.py)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.diff import Change, diff_versions, word_changes
from engine.store import load_folder
from tests.conftest import DEMO, POLICIES, write_policy


def _versions(root: Path) -> dict:
    _, policies, _, problems = load_folder(root)
    assert problems == []
    return {v.version: v for p in policies.values() for v in p.versions}


def _overlay(version: str, extends: str, body: str, notes: str = "") -> str:
    return (f'policy: demo\nversion: "{version}"\nextends: "{extends}"\n'
            f"effective_from: {version}-01\n{notes}{body}")


def _diff(tmp_path: Path, *texts: tuple[str, str], before="2024-01", after="2025-01"):
    write_policy(tmp_path)
    for version, text in texts:
        write_policy(tmp_path, text, version=version)
    versions = _versions(tmp_path)
    return diff_versions(versions[before], versions[after], list(versions.values()))


def _names(changes) -> list[str]:
    return [c.name for c in changes]


def test_same_version_has_no_differences(tmp_path):
    diff = _diff(tmp_path, before="2024-01", after="2024-01")
    assert diff.empty and diff.notes == ()
    assert diff.to_dict()["rules"] == {"added": [], "removed": [], "changed": []}
    assert diff.to_text("en").endswith("No differences.\n")
    assert diff.to_text("sv").endswith("Inga skillnader.\n")


def test_a_scalar_parameter_is_one_cell_with_the_rules_that_read_it(tmp_path):
    diff = _diff(tmp_path, ("2025-01", _overlay("2025-01", "2024-01",
                                                "parameters: {min_hours: 5}\n")))
    [p] = diff.parameters
    assert (p.name, p.kind, p.read_by) == ("min_hours", "changed", ("TT-1-short",))
    assert p.to_dict() == {"name": "min_hours", "read_by": ["TT-1-short"], "cells": [
        {"name": "min_hours", "path": ["min_hours"], "change": "changed", "from": 6, "to": 5}]}
    assert (diff.rules, diff.actions, diff.title, diff.source) == ((), (), (), ())
    assert "  changed min_hours: 6 → 5\n    Rules that read it: TT-1-short\n" \
        in diff.to_text("en")
    assert "  muutettu min_hours: 6 → 5\n    Säännöt, jotka lukevat tätä: TT-1-short\n" \
        in diff.to_text("fi")


def test_one_changed_cell_of_a_big_table_is_one_entry(tmp_path):
    rows = "".join(f"    r{i}: {{min_size: {i % 7 + 1}, max_size: 20}}\n" for i in range(1000))
    base = DEMO.replace("    b: {min_size: 4, max_size: 8}\n",
                        "    b: {min_size: 4, max_size: 8}\n" + rows)
    write_policy(tmp_path, base)
    write_policy(tmp_path, _overlay("2025-01", "2024-01",
                                    "parameters:\n  types:\n    r500: {max_size: 13}\n"),
                 version="2025-01")
    versions = _versions(tmp_path)
    assert len(versions["2025-01"].parameters["types"]) == 1002
    [p] = diff_versions(versions["2024-01"], versions["2025-01"]).parameters
    assert p.to_dict()["cells"] == [{"name": "types.r500.max_size",
                                     "path": ["types", "r500", "max_size"],
                                     "change": "changed", "from": 20, "to": 13}]
    # TT-4-size reads the table only through the derived value size_min
    assert p.read_by == ("TT-4-size",)


def test_table_rows_added_and_removed_and_list_parameters(tmp_path):
    new = DEMO.replace('version: "2024-01"', 'version: "2025-01"').replace(
        "effective_from: 2024-01-01", "effective_from: 2025-01-01").replace(
        "    b: {min_size: 4, max_size: 8}\n", "    c: {min_size: 1, max_size: 2}\n"
        "  holidays: [2025-12-24, 2025-12-25]\n").replace(
        "min_hours > 0\n", "min_hours > 0 and length(holidays) > 0\n")
    diff = _diff(tmp_path, ("2025-01", new))
    types, holidays = diff.parameters
    assert [c.to_dict() for c in types.cells] == [
        {"name": "types.b", "path": ["types", "b"], "change": "removed",
         "from": {"min_size": 4, "max_size": 8}},
        {"name": "types.c", "path": ["types", "c"], "change": "added",
         "to": {"min_size": 1, "max_size": 2}}]
    assert holidays.to_dict() == {"name": "holidays", "value": ["2025-12-24", "2025-12-25"],
                                  "read_by": []}
    assert "  added holidays: [\"2025-12-24\", \"2025-12-25\"]\n    Rules that read it: " \
        "no rule\n" in diff.to_text("en")
    json.dumps(diff.to_dict())          # dates are ISO text
    # a list that changes is one cell, shown whole before and after
    later = new.replace("[2025-12-24, 2025-12-25]", "[2025-12-24, 2025-12-26]").replace(
        'version: "2025-01"', 'version: "2026-01"').replace("2025-01-01", "2026-01-01")
    diff = _diff(tmp_path, ("2025-01", new), ("2026-01", later), before="2025-01",
                 after="2026-01")
    [p] = diff.parameters
    assert [(c.name, c.kind) for c in p.cells] == [("holidays", "changed")]
    assert p.to_dict()["cells"][0]["to"] == ["2025-12-24", "2025-12-26"]
    # what a planner changed in the list: the items added and removed, not the whole list
    assert p.to_dict()["cells"][0]["added_items"] == ["2025-12-26"]
    assert p.to_dict()["cells"][0]["removed_items"] == ["2025-12-25"]
    assert "  changed holidays: added 2025-12-26; removed 2025-12-25\n" in diff.to_text("en")
    assert "muutettu holidays: lisätty 2025-12-26; poistettu 2025-12-25" in diff.to_text("fi")


RULES = '''\
rules:
  - id: TT-1-short
    action: day
    when: hours < min_hours - 1
    effect: warn
    cite:
      seed: "004"
      section: "4.2 (2025)"
      interpretation: {fi: "tunnin jousto", sv: "en timmes marginal", en: "one hour of slack"}
    message:
      fi: "Liian lyhyt: {hours} h"
      sv: "Alltför kort: {hours} h"
      en: "Too short: {hours} h"
  - id: TT-3-due
    action: day
    when: start is present
    effect: oblige
    due: add_months(start, 3)
    cite: {seed: "004", section: "5"}
    message: {fi: "Viimeistään {due}", sv: "Senast {due}", en: "By {due}"}
  - id: TT-4-size
    action: day
    effect: result
    set: {long_day: hours > 9, size_min: size_min, short_day: hours < 3}
    cite: {seed: "004", section: "6"}
    message: {fi: "Koko {size_min}", sv: "Storlek {size_min}", en: "Size {size_min}"}
  - id: TT-7-new
    action: day
    when: hours > 12
    effect: info
    cite: {seed: "004", section: "9"}
    message: {fi: "Pitkä", sv: "Lång", en: "Long"}
remove:
  rules: [TT-2-unpaid]
'''


def test_rules_changed_part_by_part_added_and_removed(tmp_path):
    diff = _diff(tmp_path, ("2025-01", _overlay("2025-01", "2024-01", RULES)))
    by_id = {r.name: r for r in diff.rules}
    assert [(r.name, r.kind) for r in diff.rules] == [
        ("TT-1-short", "changed"), ("TT-2-unpaid", "removed"), ("TT-3-due", "changed"),
        ("TT-4-size", "changed"), ("TT-7-new", "added")]
    short = [c.to_dict() for c in by_id["TT-1-short"].changes]
    assert [c["name"] for c in short] == ["when", "effect", "message.sv", "cite.section",
                                          "cite.interpretation"]
    assert short[0] == {"name": "when", "path": ["when"], "change": "changed",
                        "from": "hours < min_hours", "to": "hours < min_hours - 1"}
    assert short[2]["from"] == "För kort: {hours} h" and short[4]["change"] == "added"
    assert _names(by_id["TT-3-due"].changes) == ["due"]
    assert [(c.name, c.kind) for c in by_id["TT-4-size"].changes] == [
        ("set.long_day", "changed"), ("set.short_day", "added")]
    body = diff.to_dict()["rules"]
    assert [r["id"] for r in body["added"]] == ["TT-7-new"]
    assert body["added"][0]["message"]["en"] == "Long"
    assert [r["id"] for r in body["removed"]] == ["TT-2-unpaid"]
    assert [r["id"] for r in body["changed"]] == ["TT-1-short", "TT-3-due", "TT-4-size"]
    text = diff.to_text("sv")
    assert "Regler:\n  ändrad TT-1-short\n    ändrad when: hours < min_hours → " \
        "hours < min_hours - 1\n" in text
    assert "    ändrad message.sv: För kort: {hours} h → Alltför kort: {hours} h\n" in text
    assert "  borttagen TT-2-unpaid (warn; day)\n" in text
    assert "  tillagd TT-7-new (info; day)\n    when: hours > 12\n    message.sv: Lång\n" in text


def test_reordering_and_rewrapping_are_no_change(tmp_path):
    moved = DEMO.replace('version: "2024-01"', 'version: "2025-01"').replace(
        "effective_from: 2024-01-01", "effective_from: 2025-01-01").replace(
        "when: hours < min_hours\n", "when: >-\n      (hours <\n       min_hours)\n")
    head, rules = moved.split("rules:\n")
    parts = rules.split("  - id: ")
    moved = head + "rules:\n" + "  - id: ".join([parts[0], parts[2], parts[1], *parts[3:]])
    diff = _diff(tmp_path, ("2025-01", moved))
    assert diff.empty, diff.to_text("en")
    new = _versions(tmp_path)["2025-01"]
    assert [r.id for r in new.rules][:2] == ["TT-2-unpaid", "TT-1-short"]
    assert new.rules[1].when_source == "(hours <\n min_hours)"


FACTS = DEMO.replace('version: "2024-01"', 'version: "2025-01"').replace(
    "effective_from: 2024-01-01", "effective_from: 2025-01-01").replace(
    "hours: {type: number, min: 0, max: 24}", "hours: {type: number, min: 0, max: 12}").replace(
    "kind: {type: string}", "kind: {type: string, one_of: [a, b]}").replace(
    "start: {type: date, optional: true}", "start: {type: date}").replace(
    "paid: {type: boolean, default: false}", "paid: {type: boolean, default: true}").replace(
    "      code: {type: hetu, optional: true}\n", "      note: {type: string, optional: true}\n"
).replace('size_min: lookup(types, kind, "min_size")',
          'size_min: lookup(types, kind, "max_size")\n      half: hours / 2').replace(
    "when: code is present and not valid_hetu(code)", "when: note is present and half > 1").replace(
    "  day:\n", "  day:\n    title: {fi: Päivä, sv: Dag, en: Day}\n").replace(
    "rules:\n", "  week:\n    title: {fi: Viikko, sv: Vecka, en: Week}\n    facts:\n"
    "      days: {type: integer}\nrules:\n")


def test_facts_derived_values_and_actions(tmp_path):
    diff = _diff(tmp_path, ("2025-01", FACTS))
    day, week = diff.actions
    assert (week.name, week.kind) == ("week", "added")
    assert week.description["facts"] == {"days": {"type": "integer", "required": True}}
    assert (day.name, day.kind) == ("day", "changed")
    assert [(c.name, c.kind, c.before, c.after) for c in day.changes] == [
        ("title.fi", "added", None, "Päivä"), ("title.sv", "added", None, "Dag"),
        ("title.en", "added", None, "Day"),
        ("facts.hours.max", "changed", 24, 12),
        ("facts.kind.one_of", "added", None, ["a", "b"]),
        ("facts.paid.default", "changed", False, True),
        ("facts.start.required", "changed", False, True),
        ("facts.code", "removed", {"type": "hetu", "required": False, "personal": True}, None),
        ("facts.note", "added", None, {"type": "string", "required": False}),
        ("derived.size_min", "changed", 'lookup(types, kind, "min_size")',
         'lookup(types, kind, "max_size")'),
        ("derived.half", "added", None, "hours / 2"),
    ]
    size_min = day.changes[-2]
    assert size_min.read_by == ("TT-4-size",) and day.changes[-1].read_by == ("TT-6-code",)
    body = diff.to_dict()["actions"]
    assert [a["name"] for a in body["added"]] == ["week"]
    assert body["added"][0]["title"]["fi"] == "Viikko"
    assert body["changed"][0]["changes"][-2]["read_by"] == ["TT-4-size"]
    text = diff.to_text("fi")
    assert "Toiminnot ja niiden tiedot:\n  muutettu day\n" in text
    assert "    muutettu facts.hours.max: 24 → 12\n" in text
    assert "  lisätty week (Viikko)\n    facts.days: " in text
    assert [(r.name, r.kind) for r in diff.rules] == [("TT-6-code", "changed")]


def test_a_chain_of_overlays_is_compared_resolved(tmp_path):
    second = _overlay("2025-01", "2024-01", "parameters:\n  min_hours: 5\n  types:\n"
                      "    a: {max_size: 10}\n",
                      notes="changes:\n  - {cite: '4.2', fi: Viisi, sv: Fem, en: Five}\n")
    third = _overlay("2026-01", "2025-01", "parameters: {min_hours: 4}\n",
                     notes="changes:\n  - {fi: Neljä, sv: Fyra, en: Four}\n")
    texts = (("2025-01", second), ("2026-01", third))
    diff = _diff(tmp_path, *texts, before="2024-01", after="2026-01")
    assert [c.to_dict() for p in diff.parameters for c in p.cells] == [
        {"name": "min_hours", "path": ["min_hours"], "change": "changed", "from": 6, "to": 4},
        {"name": "types.a.max_size", "path": ["types", "a", "max_size"], "change": "changed",
         "from": 12, "to": 10}]
    assert [v for v, _ in diff.notes] == ["2025-01", "2026-01"]
    text = diff.to_text("en")
    assert "Change notes, version 2025-01:\n  - 4.2: Five\n" in text
    assert "Change notes, version 2026-01:\n  - Four\n" in text
    diff = _diff(tmp_path, *texts, before="2025-01", after="2026-01")
    assert [c.to_dict()["from"] for p in diff.parameters for c in p.cells] == [5]
    assert diff.to_dict()["notes"] == [
        {"version": "2026-01", "changes": [{"fi": "Neljä", "sv": "Fyra", "en": "Four"}]}]
    assert diff.to_dict()["effective_from"] == {"from": "2025-01-01", "to": "2026-01-01"}


def test_tyokokeilu_2025_04_is_only_the_tt1_change():
    """The acceptance check: 04/2025 changed TT-1 and nothing else (the real policies)."""
    _, policies, _, problems = load_folder(POLICIES)
    assert problems == []
    tt = policies["tyokokeilu-tyohonvalmennus"]
    versions = {v.version: v for v in tt.versions}
    body = diff_versions(versions["2023-01"], versions["2025-04"], tt.versions).to_dict()
    assert list(body) == ["policy", "from", "to", "effective_from", "notes", "title", "source",
                          "parameters", "actions", "rules", "labels"]
    assert body["effective_from"] == {"from": "2023-01-01", "to": "2025-04-01"}
    assert [n["version"] for n in body["notes"]] == ["2025-04"]
    assert body["title"] == []
    assert [c["name"] for c in body["source"]] == ["source.document", "source.note",
                                                   "source.revision"]
    params = body["parameters"]
    assert params["changed"] == []
    assert [(p["name"], p["value"]) for p in params["removed"]] == [("rehab_day_hours", 6)]
    assert [(p["name"], p["value"]) for p in params["added"]] == [("rehab_day_min_hours", 6)]
    readers = ["TT-1-day-length", "TT-3-day-not-billable", "TT-3-realised-day"]
    assert params["removed"][0]["read_by"] == readers    # TT-3 through day_denied
    # the longer day is measured against the same 6 hours ("pidemmän kuin 6h")
    assert params["added"][0]["read_by"] == [
        "TT-1-day-length", "TT-1-longer-day-goal", "TT-3-day-not-billable", "TT-3-realised-day"]
    actions = body["actions"]
    assert (actions["added"], actions["removed"]) == ([], [])
    assert [(a["name"], [c["name"] for c in a["changes"]]) for a in actions["changed"]] == [
        ("rehab_day", ["facts.longer_day_goal", "derived.day_denied"])]
    rules = body["rules"]
    # "mikäli se on asiakkaan tavoitteena": a day longer than 6 hours as the customer's goal
    assert [r["id"] for r in rules["added"]] == ["TT-1-longer-day-goal"]
    assert rules["removed"] == []
    assert [r["id"] for r in rules["changed"]] == ["TT-1-day-length", "TT-1-workplace-hours"]
    # both cite section 4.2 of their own text; the words they quote from it differ
    assert [c["name"] for c in rules["changed"][0]["changes"]] == [
        "when", "message.fi", "message.sv", "message.en", "cite.quote",
        "cite.interpretation.fi", "cite.interpretation.sv", "cite.interpretation.en"]
    # the label of the parameter taken away goes with it; the new names come with theirs
    assert [(c["name"], c["change"]) for c in body["labels"]] == [
        ("rehab_day_hours", "removed"), ("rehab_day_min_hours", "added"),
        ("longer_day_goal", "added")]


def test_labels_are_compared_per_name_and_language(tmp_path):
    labels = ("labels:\n  hours:\n    label: {fi: Tunnit, sv: Timmar, en: Hours}\n"
              "  kind:\n    label: {fi: Laji, sv: Slag, en: Kind}\n")
    write_policy(tmp_path, DEMO + labels)
    write_policy(tmp_path, _overlay("2025-01", "2024-01", "labels:\n  hours:\n    label: "
                                    "{sv: Antal timmar}\n    help: {fi: a, sv: b, en: c}\n"),
                 version="2025-01")
    versions = _versions(tmp_path)
    diff = diff_versions(versions["2024-01"], versions["2025-01"])
    assert not diff.empty and (diff.parameters, diff.rules) == ((), ())
    assert [(c.name, c.kind) for c in diff.labels] == [
        ("hours.label.sv", "changed"), ("hours.help", "added")]
    assert diff.to_dict()["labels"][0] == {"name": "hours.label.sv",
                                           "path": ["hours", "label", "sv"],
                                           "change": "changed", "from": "Timmar",
                                           "to": "Antal timmar"}
    assert "Labels and help:\n  changed hours.label.sv: Timmar → Antal timmar\n" \
        in diff.to_text("en")
    assert "Benämningar och förklaringar:" in diff.to_text("sv")


def test_word_changes_mark_the_changed_words_and_give_both_texts_back():
    before = "sick == false and hours_total != rehab_day_hours"
    after = "sick == false and hours_total < rehab_day_min_hours"
    runs = word_changes(before, after)
    assert [t for k, t in runs if k != "same"] == ["!=", "<", "rehab_day_hours",
                                                   "rehab_day_min_hours"]
    assert "".join(t for k, t in runs if k != "added") == before
    assert "".join(t for k, t in runs if k != "removed") == after
    assert word_changes("a b", "a b") == (("same", "a b"),)
    assert word_changes("", "new") == (("added", "new"),)
    text = word_changes("Päivä on 6 tuntia.", "Päivä on vähintään 6 tuntia.")
    assert [k for k, t in text] == ["same", "added", "same"]
    assert text[1][1].strip() == "vähintään"


def test_a_change_has_words_only_for_a_changed_text():
    assert Change(("when",), "changed", "a < 1", "a <= 1").words == (
        ("same", "a "), ("removed", "<"), ("added", "<="), ("same", " 1"))
    assert Change(("x",), "changed", 6, 5).words is None
    assert Change(("x",), "added", None, "new").words is None
    assert Change(("x",), "changed", ["a"], ["b"]).words is None
    assert Change(("x",), "changed", ["a", "b"], ["b", "c"]).items == (["c"], ["a"])


def test_the_text_puts_rules_first_then_parameters_actions_and_the_source():
    _, policies, _, _ = load_folder(POLICIES)
    tt = policies["tyokokeilu-tyohonvalmennus"]
    text = diff_versions(tt.versions[0], tt.versions[1], tt.versions).to_text("en")
    heads = [line for line in text.splitlines() if line.endswith(":") and
             not line.startswith(" ")]
    assert heads == ["Change notes, version 2025-04:", "Rules:", "Parameters:",
                     "Actions and their facts:", "Labels and help:", "Source:"]
