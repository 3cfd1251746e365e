"""What a loaded version says about its names (engine/model.py): labels, help and the names of
the values a fact may take, in each language, as the pages show them."""

from __future__ import annotations

from pathlib import Path

from engine.store import load_folder
from tests.conftest import DEMO, POLICIES, write_policy

LABELS = '''\
labels:
  hours:
    label: {fi: Päivän pituus (tuntia), sv: Dagens längd (timmar), en: Length of the day (hours)}
    help: {fi: Ilman matka-aikaa., sv: Utan restid., en: Without travel time.}
  kind:
    label: {fi: Laji, sv: Slag, en: Kind}
  min_hours:
    label: {fi: Vähimmäistunnit, sv: Minsta antal timmar, en: Minimum hours}
'''


def _load(root: Path) -> dict:
    _, policies, _, problems = load_folder(root)
    assert problems == [], [str(p) for p in problems]
    return {v.version: v for p in policies.values() for v in p.versions}


def _overlay(version: str, body: str) -> str:
    return (f'policy: demo\nversion: "{version}"\nextends: "2024-01"\n'
            f"effective_from: {version}-01\n{body}")


def test_a_label_and_its_help_in_each_language(tmp_path):
    write_policy(tmp_path, DEMO + LABELS)
    version = _load(tmp_path)["2024-01"]
    assert version.label_of("hours", "fi") == "Päivän pituus (tuntia)"
    assert version.label_of("hours", "sv") == "Dagens längd (timmar)"
    assert version.label_of("min_hours", "en") == "Minimum hours"      # a parameter
    assert version.help_of("hours", "en") == "Without travel time."
    assert version.help_of("kind", "fi") is None                        # help is optional
    # a name without a label shows as itself; a language of none of ours falls back to fi
    assert version.label_of("size_min", "fi") == "size_min"
    assert version.label_of("hours", "de") == "Päivän pituus (tuntia)"
    assert "size_min" in version.unlabelled() and "hours" not in version.unlabelled()
    assert version.describe()["labels"]["hours"]["help"]["sv"] == "Utan restid."


def test_option_names_come_from_labels_or_from_the_table_one_of_names(tmp_path):
    text = DEMO.replace("kind: {type: string}", "kind: {type: string, one_of: [a, b]}") \
        + LABELS.replace("en: Kind}\n", "en: Kind}\n    values:\n      a: {fi: tavallinen, "
                         "sv: vanlig, en: ordinary}\n")
    write_policy(tmp_path, text)
    version = _load(tmp_path)["2024-01"]
    assert version.option_name("kind", "a", "sv") == "vanlig"
    assert version.option_name("kind", "b", "sv") == "b"                # not named: itself
    assert "kind=b" in version.unlabelled() and "kind=a" not in version.unlabelled()
    # a value set written once: the table's fi, sv and en columns name its keys
    real = _load(POLICIES)["2025-04"]
    assert real.option_name("service", "tyokokeilu", "sv") == "arbetsprövning"
    assert real.option_name("service", "tyohonvalmennus", "en") == "job coaching"
    assert real.option_name("phase", "planning", "fi") == "suunnittelu"


def test_an_overlay_inherits_labels_and_changes_one_language(tmp_path):
    write_policy(tmp_path, DEMO + LABELS)
    write_policy(tmp_path, _overlay("2025-01", "labels:\n  hours:\n    label: {sv: Dagens "
                                    "längd}\n"), version="2025-01")
    later = _load(tmp_path)["2025-01"]
    assert later.label_of("hours", "sv") == "Dagens längd"
    assert later.label_of("hours", "fi") == "Päivän pituus (tuntia)"    # the base's
    assert later.help_of("hours", "en") == "Without travel time."
    assert later.label_of("min_hours", "en") == "Minimum hours"


def test_a_label_goes_with_the_fact_an_overlay_takes_away(tmp_path):
    write_policy(tmp_path, DEMO + LABELS + "  groups:\n    label: {fi: Ryhmät, sv: Grupper, "
                 "en: Groups}\n")
    write_policy(tmp_path, _overlay("2025-01", "remove:\n  rules: [TT-5-groups]\n"
                                    "  actions.day.facts: [groups]\n"), version="2025-01")
    versions = _load(tmp_path)
    assert versions["2024-01"].label_of("groups", "en") == "Groups"
    assert "groups" not in versions["2025-01"].labels           # no problem, no label


def test_an_overlays_own_label_of_an_unknown_name_is_a_problem_at_its_line(tmp_path):
    write_policy(tmp_path, DEMO + LABELS)
    path = write_policy(tmp_path, _overlay("2025-01", "labels:\n  hours_totl:\n    label: "
                                           "{fi: a, sv: b, en: c}\n"), version="2025-01")
    _, _, _, problems = load_folder(tmp_path)
    assert [(p.path, p.line) for p in problems] == [(str(path), 6)]
    assert "'hours_totl' is no fact, derived value or parameter" in problems[0].message


def test_a_rule_keeps_its_interpretation_in_three_languages(tmp_path):
    write_policy(tmp_path)
    rule = next(r for r in _load(tmp_path)["2024-01"].rules if r.id == "TT-2-unpaid")
    assert rule.cite["interpretation"]["sv"] == "b är träning"
    assert rule.cites["en"]["interpretation"] == "b counts as coaching"
    assert rule.describe()["cite"]["interpretation"]["fi"] == "b on valmennusta"
