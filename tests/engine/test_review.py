"""What check reviews beyond validity (engine/review.py), on the planner-mistakes base.

The end-to-end cases are in tests/planner_mistakes/; these pin the pieces: the summary, how
an old figure is recognised in words, what counts as removed without a name, and how a
refusal is traced to the overlay line that explains it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.fixtures import load_suite, run_case
from engine.review import _figure, blame_refusals, is_refusal_change, review_set
from engine.store import PolicyStore

BASE = Path(__file__).resolve().parent.parent / "planner_mistakes" / "_base"
HEAD = 'policy: audit\nversion: "2026-01"\nextends: "2025-01"\neffective_from: 2026-01-01\n'


@pytest.fixture
def lay(tmp_path):
    def lay(overlay: str) -> PolicyStore:
        work = tmp_path / "w"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(BASE, work)
        (work / "policies" / "audit" / "2026-01.yaml").write_text(HEAD + overlay,
                                                                 encoding="utf-8")
        store = PolicyStore.load(work / "policies")
        stores.append(store)
        return store
    stores: list[PolicyStore] = []
    yield lay
    for store in stores:
        store.close()


def _review(store: PolicyStore):
    return review_set(store.policies, store.current.files)


def test_the_summary_says_what_the_overlay_changes(lay):
    review = _review(lay("parameters:\n  max_days:\n    tyokokeilu: 50\n"))
    assert review.problems == []
    assert review.summary == [
        "audit 2026-01 (extends 2025-01): 0 added, 1 changed, 0 removed",
        "  changed parameters.max_days.tyokokeilu: 45 → 50  (read by TT-4-max-days)"]


@pytest.mark.parametrize("lang,text,found", [
    ("fi", "kahden viikon kuluessa", True), ("fi", "2 viikon kuluessa", True),
    ("sv", "inom två veckor", True), ("en", "within two weeks", True),
    ("en", "within 2.5 weeks", False), ("en", "rule TT-2 applies", False),
    ("en", "by 2025-02-02", False), ("en", "within {weeks} weeks", False),
    ("en", "12 weeks", False), ("fi", "kaksitoista viikkoa", False),
])
def test_an_old_figure_is_found_as_digits_or_words(lang, text, found):
    assert bool(_figure(2, lang).search(text)) is found


def test_an_old_figure_in_an_inherited_message_is_one_problem_at_the_overlay(lay):
    [problem] = _review(lay("parameters:\n  report_within_weeks: 3\n")).problems
    assert problem.path.endswith("2026-01.yaml") and problem.line == 6
    assert problem.code == "old_figure"
    assert "'lähetetään kahden viikon' (message.fi)" in problem.message
    assert "'inom två veckor' (message.sv)" in problem.message


def test_a_rule_written_anew_in_the_overlay_is_the_planners_own_text(lay):
    rule = """rules:
  - id: AU-4-report-late
    action: report
    when: report_sent_on > report_due
    effect: deny
    cite: {seed: "004", section: "Auditoinnin jälkeinen prosessi"}
    message:
      fi: "Kertomus kolmen viikon kuluessa (aiemmin 2 viikkoa), viimeistään {report_due}."
      sv: "Rapporten inom tre veckor, senast {report_due}."
      en: "The report within three weeks, by {report_due}."
"""
    assert _review(lay("parameters:\n  report_within_weeks: 3\n" + rule)).problems == []


def test_change_notes_that_change_nothing(lay):
    notes = "changes:\n  - {fi: Muutos., sv: Ändring., en: A change.}\n"
    [problem] = _review(lay(notes + "parameters:\n  report_within_weeks: 2\n")).problems
    assert (problem.line, problem.code) == (5, "no_change")
    assert _review(lay(notes + "parameters:\n  report_within_weeks: 3\n"
                       "rules:\n  - id: AU-4-report-late\n    action: report\n"
                       "    effect: warn\n    cite: {seed: \"004\", section: x}\n"
                       "    message: {fi: a, sv: b, en: c}\n")).problems == []


def test_a_value_a_fact_lost_without_remove_is_a_problem(lay):
    overlay = """parameters:
  main_services: [tyokokeilu]
actions:
  day:
    facts:
      service: {one_of: main_services}
"""
    [problem] = _review(lay(overlay)).problems
    assert problem.code == "unnamed_removal" and problem.line == 10
    assert "can no longer take tyohonvalmennus" in problem.message
    assert _review(lay(overlay.replace("[tyokokeilu]", "[tyokokeilu, tyohonvalmennus]"))
                   ).problems == []


def test_a_fact_no_rule_reads_unless_kept_for_a_reason(lay):
    fact = "actions:\n  report:\n    facts:\n      auditor: {type: string, optional: true%s}\n"
    [problem] = _review(lay(fact % "")).problems
    assert (problem.line, problem.code) == (8, "unread_fact")
    assert _review(lay(fact % ", kept_for: the log names the auditor")).problems == []


def test_refusals_are_traced_to_the_overlay_line_and_grouped(lay, tmp_path):
    store = lay("actions:\n  report:\n    facts:\n      auditor: {type: string}\n")
    cases, problems = load_suite([tmp_path / "w" / "fixtures"], store.policies)
    assert problems == []
    results = [run_case(store, c) for c in cases if c.version == "2026-01"]
    refused = [r for r in results if is_refusal_change(r)]
    assert [r.case.action for r in refused] == ["report", "report"]
    [problem] = blame_refusals(refused, store)
    assert problem.path.endswith("2026-01.yaml") and problem.line == 8
    assert problem.message.startswith("2 inherited cases of audit 2026-01 now refused with "
                                      "invalid_facts")


def test_the_summary_notes_what_an_overlay_adds_without_a_label(tmp_path):
    """Where the base labels its names, a fact the overlay adds without one, and a value it
    adds to a labelled fact without a name, are noted (the pages would show identifiers);
    labelling them in the overlay clears the note."""
    real = Path(__file__).resolve().parents[2] / "policies" / "tyokokeilu-tyohonvalmennus"
    work = tmp_path / "policies" / "tyokokeilu-tyohonvalmennus"
    shutil.copytree(real, work)
    overlay = ('policy: tyokokeilu-tyohonvalmennus\nversion: "2026-01"\nextends: "2025-04"\n'
               "effective_from: 2026-01-01\nactions:\n  rehab_day:\n    facts:\n"
               "      remote: {type: boolean, default: false, kept_for: the log}\n"
               "  bill_meal:\n    facts:\n      phase: {one_of: [planning, search, "
               "workplace, remote]}\n")
    (work / "2026-01.yaml").write_text(overlay, encoding="utf-8")
    store = PolicyStore.load(tmp_path / "policies")
    try:
        notes = [s for s in _review(store).summary if "no label yet" in s]
    finally:
        store.close()
    assert notes == ["  no label yet (pages show the identifier; labels: in "
                     "policies/README.md): remote, phase=remote"]
    labelled = overlay + ("labels:\n  remote:\n    label: {fi: Etä, sv: Distans, en: Remote}\n"
                          "  phase:\n    values:\n      remote: {fi: etä, sv: distans, "
                          "en: remote}\n")
    (work / "2026-01.yaml").write_text(labelled, encoding="utf-8")
    store = PolicyStore.load(tmp_path / "policies")
    try:
        assert not [s for s in _review(store).summary if "no label yet" in s]
        assert store.get_version("tyokokeilu-tyohonvalmennus", "2026-01").option_name(
            "phase", "remote", "sv") == "distans"
    finally:
        store.close()
