"""engine/revision.py: trace, coverage, a revision's text against the text in force, the
skeleton overlay, and the rules an overlay left unreviewed."""

from __future__ import annotations

import datetime as dt
import textwrap

import yaml

from engine.revision import (
    compare_texts,
    coverage_problems,
    review_text,
    skeleton_overlay,
    trace_version,
    unreviewed_problems,
)
from engine.store import load_folder
from engine.text import parse_text
from tests.conftest import DEMO_TEXT, write_policy, write_text

OVERLAY = textwrap.dedent("""\
    policy: demo
    version: "2024-06"
    extends: "2024-01"
    effective_from: 2024-06-01
    """)
REVISED = DEMO_TEXT.replace("pituus on 6 tuntia", "pituus on vähintään 6 tuntia")


def _load(root):
    _, policies, _, problems = load_folder(root)
    assert problems == [], problems
    return policies["demo"].versions


def _text(text: str, name: str = "new.fi.md"):
    parsed, problems = parse_text(text.encode(), name, "fi", "new")
    assert problems == []
    return parsed


def test_trace_lists_every_section_with_its_rules_or_why_none(tmp_path):
    write_policy(tmp_path)
    write_text(tmp_path)
    (version,) = _load(tmp_path)
    trace = trace_version(version)
    assert [(s.section.number, [r.id for r in s.rules], s.no_rule) for s in trace.sections] == [
        ("4.2", ["TT-1-short"], None), ("4.3", ["TT-2-unpaid"], None), ("5", ["TT-3-due"], None),
        ("6", ["TT-4-size"], None), ("7", ["TT-5-groups"], None), ("8", ["TT-6-code"], None),
        ("9", [], "contact information; no request shows it")]
    assert trace.counts == (6, 1, 0)
    text = trace.to_text()
    assert text.splitlines()[:4] == [
        f"demo 2024-01: {tmp_path}/demo/2024-01.fi.md",
        "7 sections: 6 cited by rules, 1 need no rule, 0 neither",
        "4.2 Kuntoutuspäivä",
        "    TT-1-short   deny    day"]
    assert "    no rule: contact information; no request shows it" in text
    assert trace.to_dict()["sections"][0] == {
        "number": "4.2", "heading": "Kuntoutuspäivä", "line": 4, "no_rule": None,
        "rules": [{"id": "TT-1-short", "effect": "deny", "actions": ["day"]}]}


def test_an_overlay_traces_the_text_it_inherits(tmp_path):
    write_policy(tmp_path)
    write_text(tmp_path)
    write_policy(tmp_path, OVERLAY, version="2024-06")
    _, over = _load(tmp_path)
    trace = trace_version(over)
    assert (trace.version, trace.inherited_from) == ("2024-06", "2024-01")
    assert "(inherited from 2024-01)" in trace.to_text().splitlines()[0]


def test_a_version_without_a_text_has_no_trace_and_no_coverage_problems(tmp_path):
    write_policy(tmp_path)
    (version,) = _load(tmp_path)
    assert trace_version(version) is None and coverage_problems(version) == []


def test_a_section_neither_cited_nor_marked_is_a_problem_at_its_heading(tmp_path):
    write_policy(tmp_path)
    write_text(tmp_path, DEMO_TEXT.replace("<!-- no rule: contact information; no request "
                                           "shows it -->\n", ""))
    (version,) = _load(tmp_path)
    assert [(p.line, p.message) for p in coverage_problems(version)] == [(
        28, "section 9 Yhteystiedot: no rule of demo 2024-01 cites it and it does not say why "
            "it needs none — cite it from the rule that encodes it (cite.section), or write "
            "under its heading <!-- no rule: why -->")]
    assert trace_version(version).to_text().rstrip().endswith(
        "NOT COVERED: no rule cites it and it is not marked <!-- no rule: why -->")


def test_a_section_marked_no_rule_that_rules_cite_is_a_problem_at_the_marker(tmp_path):
    write_policy(tmp_path)
    write_text(tmp_path, DEMO_TEXT.replace("## 5 Määräaika\n", "## 5 Määräaika\n<!-- no rule: "
                                                               "Kela's own work -->\n"))
    (version,) = _load(tmp_path)
    assert [(p.line, p.code) for p in coverage_problems(version)] == [(13, "marked_but_cited")]
    assert "but TT-3-due cites it" in coverage_problems(version)[0].message


def test_compare_texts_tells_added_removed_changed_and_renumbered_sections():
    old = _text(DEMO_TEXT)
    new = _text(REVISED.replace("## 7 Ryhmät", "## 7.1 Ryhmät")
                .replace("## 6 Ryhmäkoko\n\nRyhmäkoko on 6–12.\n\n", "")
                + "\n## 10 Uusi kohta\n\nUusi lause.\n")
    changes = compare_texts(old, new)
    assert [(c.kind, c.number) for c in changes] == [
        ("changed", "4.2"), ("renumbered", "7.1"), ("added", "10"), ("removed", "6")]
    changed = changes[0]
    assert [(w.kind, w.words) for w in changed.words] == [
        ("same", "Kuntoutuspäivän pituus on"), ("added", "vähintään"),
        ("same", "6 tuntia. Tästä vähintään 5 tuntia …")]
    assert changed.removed_sentences == ("Kuntoutuspäivän pituus on 6 tuntia.",)
    assert changed.added_sentences == ("Kuntoutuspäivän pituus on vähintään 6 tuntia.",)
    assert changes[1].title == "7 → 7.1 Ryhmät"


def test_spaces_and_line_breaks_are_no_change():
    assert compare_texts(_text(DEMO_TEXT), _text(DEMO_TEXT.replace(
        "Kuntoutuspäivän pituus on 6 tuntia. ", "Kuntoutuspäivän  pituus on 6\ntuntia.\n"))) == ()


def test_review_lists_the_rules_resting_on_a_changed_section_and_what_they_read(tmp_path):
    write_policy(tmp_path)
    write_text(tmp_path)
    (base,) = _load(tmp_path)
    review = review_text(base, _text(REVISED))
    (change,) = review.changes
    assert (change.kind, change.number, [r.id for r in change.rules], change.parameters) == (
        "changed", "4.2", ["TT-1-short"], ("min_hours",))
    assert review.unchanged == 6
    text = review.to_text()
    assert "changed 4.2 Kuntoutuspäivä" in text
    assert "    words: Kuntoutuspäivän pituus on {+vähintään+} 6 tuntia." in text
    assert "      [ ] TT-1-short (deny, day)" in text
    assert "    parameters they read: min_hours" in text
    assert text.rstrip().endswith("1 changed, 0 added, 0 removed, 0 renumbered, 6 unchanged")
    assert review.to_dict()["sections"][0]["rules"] == ["TT-1-short"]


def test_review_says_whose_quoted_words_are_gone(tmp_path):
    from tests.conftest import DEMO

    write_policy(tmp_path, DEMO.replace('section: "4.2"}',
                                        'section: "4.2", quote: "pituus on 6 tuntia"}'))
    write_text(tmp_path)
    (base,) = _load(tmp_path)
    change = review_text(base, _text(REVISED)).changes[0]
    assert change.quotes_gone == ("TT-1-short",)
    assert "its quote is gone from the new text" in review_text(base, _text(REVISED)).to_text()


def test_the_skeleton_overlay_is_yaml_that_asks_for_what_only_the_planner_knows(tmp_path):
    write_policy(tmp_path)
    write_text(tmp_path)
    (base,) = _load(tmp_path)
    review = review_text(base, _text(REVISED))
    skeleton = skeleton_overlay(base, review, "2024-06", "2024-06.fi.md", dt.date(2024, 5, 2))
    doc = yaml.safe_load(skeleton)
    assert doc == {"policy": "demo", "version": "2024-06", "extends": "2024-01",
                   "effective_from": None,
                   "changes": [{"cite": "4.2 Kuntoutuspäivä", "fi": "", "sv": "", "en": ""}]}
    assert "#   TT-1-short (deny, day; reads min_hours)" in skeleton
    assert "  #   was  Kuntoutuspäivän pituus on 6 tuntia." in skeleton
    assert "  #   now  Kuntoutuspäivän pituus on vähintään 6 tuntia." in skeleton
    # written into the folder, check refuses it at each line to fill in
    write_policy(tmp_path, skeleton, version="2024-06")
    write_text(tmp_path, REVISED, version="2024-06")
    _, _, _, problems = load_folder(tmp_path)
    assert [p.message for p in problems] == [
        "effective_from: must have a value",
        "change 1: fi: the Finnish text is empty — write it",
        "change 1: sv: the Swedish text is empty — write it",
        "change 1: en: the English text is empty — write it"]


def _revised_overlay(tmp_path, overlay: str = OVERLAY):
    write_policy(tmp_path)
    write_text(tmp_path)
    write_policy(tmp_path, overlay, version="2024-06")
    write_text(tmp_path, REVISED, version="2024-06")
    return _load(tmp_path)


def test_a_rule_citing_a_changed_section_must_be_changed_or_reviewed(tmp_path):
    base, over = _revised_overlay(tmp_path)
    assert [(p.path.rsplit("/", 1)[-1], p.line, p.message) for p in
            unreviewed_problems(over, base)] == [(
                "2024-06.fi.md", 4, f"section 4.2 Kuntoutuspäivä changed against 2024-01, and "
                f"rule TT-1-short ({tmp_path}/demo/2024-01.yaml:28) cites it: version 2024-06 "
                "neither changes it nor says it stands — write it anew under rules:, take it "
                "away (remove: {rules: [TT-1-short]}), or add reviewed: {TT-1-short: why it "
                "stands} to 2024-06.yaml")]


def test_reviewed_or_changed_or_removed_is_enough(tmp_path):
    reviewed = OVERLAY + "reviewed: {TT-1-short: the minimum is still 6 hours}\n"
    base, over = _revised_overlay(tmp_path, reviewed)
    assert over.reviewed == {"TT-1-short": "the minimum is still 6 hours"}
    assert unreviewed_problems(over, base) == []
    removed = OVERLAY + "remove: {rules: [TT-1-short]}\n"
    base, over = _revised_overlay(tmp_path, removed)
    assert unreviewed_problems(over, base) == []


def test_a_reviewed_rule_that_cites_no_changed_section_is_a_problem(tmp_path):
    reviewed = OVERLAY + "reviewed: {TT-1-short: a, TT-3-due: b}\n"
    base, over = _revised_overlay(tmp_path, reviewed)
    where = {"TT-1-short": ("o.yaml", 5), "TT-3-due": ("o.yaml", 5)}
    assert [(p.line, p.message) for p in unreviewed_problems(over, base, where)] == [
        (5, "reviewed: TT-3-due cites no section that changed against 2024-01 (its sections: "
            "5); take it out")]


def test_an_overlay_that_inherits_the_text_has_nothing_to_review(tmp_path):
    write_policy(tmp_path)
    write_text(tmp_path)
    write_policy(tmp_path, OVERLAY, version="2024-06")
    base, over = _load(tmp_path)
    assert unreviewed_problems(over, base) == []
