"""Which rules rest on which section of a service description, and what a revision touches.

A planner's work starts when Kela publishes a revised description. Three questions follow,
each answered here from the loaded versions and their texts (:mod:`engine.text`):

- **trace** — for every section of a version's text, the rules that cite it, or why it needs
  none (``rehab-rules trace``; ``check`` lists the sections that have neither);
- **review** — a new text against the text of the version in force: the sections added,
  removed and changed (the changed words shown), each with the rules that cite it and the
  parameters those rules read, before any YAML is written (``rehab-rules review``), and a
  skeleton overlay to start from (``--overlay``);
- **unreviewed** — once the overlay brings the new text, every rule that cites a changed
  section and that the overlay neither changed nor listed under ``reviewed:`` (``check``).

>>> from pathlib import Path
>>> from engine.store import load_folder
>>> _, policies, _, _ = load_folder(Path(__file__).parent.parent / "policies")
>>> base, revised = policies["tyokokeilu-tyohonvalmennus"].versions
>>> review = review_text(base, revised.text.fi)
>>> [(c.kind, c.number, [r.id for r in c.rules]) for c in review.changes]
[('changed', '4.2', ['TT-1-day-length', 'TT-1-workplace-hours', 'TT-1-workplace-exceeds-total'])]
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from engine.diff import parameters_read
from engine.errors import Problem
from engine.model import PolicyVersion, Rule
from engine.text import Section, TextFile, WordChange, quoted_in, word_diff

__all__ = [
    "Revision",
    "SectionChange",
    "SectionTrace",
    "Trace",
    "citing",
    "compare_texts",
    "coverage_problems",
    "review_text",
    "skeleton_overlay",
    "trace_version",
    "unreviewed_problems",
]


# -- trace: every section with the rules that cite it ------------------------------------------

@dataclass(frozen=True)
class SectionTrace:
    """One section of a version's text, the rules of the version that cite it and, when
    none does, the reason the text gives why it needs none."""

    section: Section
    rules: tuple[Rule, ...]
    no_rule: str | None

    @property
    def covered(self) -> bool:
        return bool(self.rules) or self.no_rule is not None

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.section.number, "heading": self.section.heading,
                "line": self.section.line,
                "rules": [{"id": r.id, "effect": r.effect, "actions": list(r.actions)}
                          for r in self.rules],
                "no_rule": self.no_rule if not self.rules else None}


@dataclass(frozen=True)
class Trace:
    """A version's text, section by section, with the rules resting on each."""

    policy: str
    version: str
    lang: str
    path: str
    inherited_from: str | None
    sections: tuple[SectionTrace, ...]

    @property
    def counts(self) -> tuple[int, int, int]:
        """(cited by rules, marked as needing none, neither)."""
        cited = sum(bool(s.rules) for s in self.sections)
        marked = sum(not s.rules and s.no_rule is not None for s in self.sections)
        return cited, marked, len(self.sections) - cited - marked

    def to_dict(self) -> dict[str, Any]:
        cited, marked, neither = self.counts
        return {"policy": self.policy, "version": self.version, "lang": self.lang,
                "text": self.path, "inherited_from": self.inherited_from,
                "cited": cited, "no_rule": marked, "uncovered": neither,
                "sections": [s.to_dict() for s in self.sections]}

    def to_text(self) -> str:
        """What ``rehab-rules trace`` prints: a line per section, its rules indented."""
        cited, marked, neither = self.counts
        source = f" (inherited from {self.inherited_from})" if self.inherited_from else ""
        lines = [f"{self.policy} {self.version}: {self.path}{source}",
                 f"{len(self.sections)} sections: {cited} cited by rules, {marked} need no rule"
                 f", {neither} neither"]
        width = max((len(r.id) for s in self.sections for r in s.rules), default=0)
        for item in self.sections:
            lines.append(f"{item.section.title}")
            for rule in item.rules:
                lines.append(f"    {rule.id:<{width}}  {rule.effect:<6}  {', '.join(rule.actions)}")
            if not item.rules:
                lines.append(f"    no rule: {item.no_rule}" if item.no_rule is not None else
                             "    NOT COVERED: no rule cites it and it is not marked "
                             "<!-- no rule: why -->")
        return "\n".join(lines) + "\n"


def citing(version: PolicyVersion) -> dict[str, list[Rule]]:
    """Section number → the version's rules whose ``cite.section`` names it, in file order."""
    out: dict[str, list[Rule]] = {}
    for rule in version.rules:
        for number in rule.sections:
            out.setdefault(number, []).append(rule)
    return out


def trace_version(version: PolicyVersion, lang: str = "fi") -> Trace | None:
    """The trace of ``version``'s text in ``lang`` (``None`` without a text; a language
    Kela does not publish the text in shows the Finnish one)."""
    if version.text is None:
        return None
    shown = version.text.in_language(lang)
    by_number = citing(version)
    sections = []
    for section in shown.sections:
        fi = version.text.get(section.number)
        reason = section.no_rule or (fi.no_rule if fi else None)
        sections.append(SectionTrace(section, tuple(by_number.get(section.number, ())), reason))
    inherited = shown.version if shown.version != version.version else None
    return Trace(version.policy, version.version, shown.lang, shown.path, inherited,
                 tuple(sections))


def coverage_problems(version: PolicyVersion) -> list[Problem]:
    """A section that no rule cites and that does not say why it needs none, at its heading;
    and, in the version's own text, a section marked as needing no rule that rules cite."""
    trace = trace_version(version)
    if trace is None:
        return []
    out = []
    for item in trace.sections:
        section = item.section
        if not item.covered:
            out.append(Problem(trace.path, section.line, f"section {section.title}: no rule "
                               f"of {version.policy} {version.version} cites it and it does "
                               "not say why it needs none — cite it from the rule that "
                               "encodes it (cite.section), or write under its heading "
                               "<!-- no rule: why -->", "uncovered_section"))
        elif item.rules and section.no_rule is not None and trace.inherited_from is None:
            ids = ", ".join(r.id for r in item.rules)
            out.append(Problem(trace.path, section.no_rule_line, f"section {section.title} "
                               f"says it needs no rule, but {ids} cite"
                               f"{'s' if len(item.rules) == 1 else ''} it — take the marker "
                               "away, or the citation", "marked_but_cited"))
    return out


# -- review: a new text against the text in force ------------------------------------------------

@dataclass(frozen=True)
class SectionChange:
    """A section added, removed or changed from one text to the next, with the rules of the
    version in force that cite it, the parameters they read, and the rules whose quoted
    words are gone from the new text."""

    kind: str                            # "added", "removed", "changed" or "renumbered"
    number: str
    before: Section | None = None
    after: Section | None = None
    words: tuple[WordChange, ...] = ()
    rules: tuple[Rule, ...] = ()
    parameters: tuple[str, ...] = ()
    quotes_gone: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        section = self.after or self.before
        assert section is not None
        if self.kind == "renumbered" and self.before and self.after:
            return f"{self.before.number} → {self.after.title}"
        return section.title

    @property
    def removed_sentences(self) -> tuple[str, ...]:
        after = set(self.after.sentences) if self.after else set()
        return tuple(s for s in (self.before.sentences if self.before else ()) if s not in after)

    @property
    def added_sentences(self) -> tuple[str, ...]:
        before = set(self.before.sentences) if self.before else set()
        return tuple(s for s in (self.after.sentences if self.after else ()) if s not in before)

    def to_dict(self) -> dict[str, Any]:
        section = self.after or self.before
        assert section is not None
        out: dict[str, Any] = {"change": self.kind, "number": self.number,
                               "heading": section.heading,
                               "removed_sentences": list(self.removed_sentences),
                               "added_sentences": list(self.added_sentences),
                               "words": [{"kind": w.kind, "words": w.words} for w in self.words],
                               "rules": [r.id for r in self.rules],
                               "parameters": list(self.parameters),
                               "quotes_gone": list(self.quotes_gone)}
        if self.before and self.after and self.before.heading != self.after.heading:
            out["heading_before"] = self.before.heading
        return out


def _same(a: Section, b: Section) -> bool:
    return " ".join(a.heading.split()) == " ".join(b.heading.split()) and a.words == b.words


def compare_texts(old: TextFile, new: TextFile) -> tuple[SectionChange, ...]:
    """The sections of ``new`` that differ from ``old`` (by number: added, removed, changed;
    a section whose number alone changed is ``renumbered``), in the new text's order, the
    removed ones where they stood."""
    old_by, new_by = old.by_number, new.by_number
    gone = [s for s in old.sections if s.number not in new_by]
    came = [s for s in new.sections if s.number not in old_by]
    moved: dict[str, Section] = {}              # new number → old section with the same words
    for section in came:
        twin = next((g for g in gone if _same(g, section)), None)
        if twin is not None:
            moved[section.number] = twin
            gone.remove(twin)
    out: list[SectionChange] = []
    for section in new.sections:
        before = old_by.get(section.number)
        if section.number in moved:
            out.append(SectionChange("renumbered", section.number, moved[section.number],
                                     section))
        elif before is None:
            out.append(SectionChange("added", section.number, None, section))
        elif not _same(before, section):
            out.append(SectionChange("changed", section.number, before, section,
                                     word_diff(before, section)))
    for section in gone:
        out.append(SectionChange("removed", section.number, section, None))
    return tuple(out)


@dataclass(frozen=True)
class Revision:
    """A new text compared with the text of a version: what to revisit before writing YAML."""

    policy: str
    base: str                     # the version compared with
    old_path: str
    new_path: str
    changes: tuple[SectionChange, ...]
    unchanged: int

    def counts(self) -> dict[str, int]:
        return {k: sum(c.kind == k for c in self.changes)
                for k in ("changed", "added", "removed", "renumbered")}

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "against": self.base, "old_text": self.old_path,
                "new_text": self.new_path, "unchanged": self.unchanged,
                **self.counts(), "sections": [c.to_dict() for c in self.changes]}

    def to_text(self) -> str:
        """The checklist ``rehab-rules review`` prints."""
        lines = [f"{self.policy}: {self.new_path} against version {self.base} "
                 f"({self.old_path})"]
        for c in self.changes:
            lines.append("")
            lines.append(f"{c.kind} {c.title}")
            if c.before and c.after and c.before.heading != c.after.heading:
                lines.append(f"    heading: {c.before.heading} → {c.after.heading}")
            if c.words:
                lines.append("    words: " + " ".join(
                    w.words if w.kind == "same" else
                    f"[-{w.words}-]" if w.kind == "removed" else f"{{+{w.words}+}}"
                    for w in c.words))
            for sentence in c.removed_sentences if c.kind != "removed" else ():
                lines.append(f"    - {sentence}")
            for sentence in c.added_sentences if c.kind != "added" else ():
                lines.append(f"    + {sentence}")
            if c.rules:
                lines.append("    rules that cite it (change each, or say why it stands "
                             "under reviewed:):")
                for rule in c.rules:
                    gone = "  its quote is gone from the new text" \
                        if rule.id in c.quotes_gone else ""
                    lines.append(f"      [ ] {rule.id} ({rule.effect}, "
                                 f"{', '.join(rule.actions)}) {rule.path}:{rule.line}{gone}")
                lines.append("    parameters they read: " + (", ".join(c.parameters) or "none"))
            elif c.kind == "added":
                lines.append("    no rule cites it yet: write the rule that encodes it, or "
                             "mark it <!-- no rule: why -->")
            elif c.kind == "removed":
                lines.append("    no rule cites it")
        counts = self.counts()
        lines.append("")
        lines.append(f"{counts['changed']} changed, {counts['added']} added, "
                     f"{counts['removed']} removed, {counts['renumbered']} renumbered, "
                     f"{self.unchanged} unchanged")
        return "\n".join(lines) + "\n"


def review_text(base: PolicyVersion, new: TextFile) -> Revision:
    """``new`` (a revised text) against the text of ``base`` in the same language."""
    if base.text is None:
        raise ValueError(f"version {base.version} of {base.policy} has no text to compare with")
    old = base.text.in_language(new.lang)
    by_number = citing(base)
    changes = []
    for change in compare_texts(old, new):
        number = change.before.number if change.before else change.number
        rules = tuple(by_number.get(number, ()))
        params: list[str] = []
        for rule in rules:
            params += [p for p in parameters_read(base, rule) if p not in params]
        gone = tuple(r.id for r in rules if r.cite.get("quote")
                     and not quoted_in(change.after, r.cite["quote"]))
        changes.append(SectionChange(change.kind, change.number, change.before, change.after,
                                     change.words, rules, tuple(params), gone))
    unchanged = sum(1 for s in new.sections if s.number in old.by_number
                    and _same(old.by_number[s.number], s))
    return Revision(base.policy, base.version, old.path, new.path, tuple(changes), unchanged)


# -- the skeleton overlay ----------------------------------------------------------------------

def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _comment(text: str, first: str, rest: str, width: int = 96) -> list[str]:
    """``text`` as comment lines of at most ``width`` characters, the first starting with
    ``first``, the others with ``rest``."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        prefix = rest if lines else first
        if line and len(prefix) + len(line) + 1 + len(word) > width:
            lines.append(prefix + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append((rest if lines else first) + line)
    return lines


def skeleton_overlay(base: PolicyVersion, revision: Revision, version: str, text_name: str,
                     today: dt.date | None = None) -> str:
    """A new overlay on ``base`` to start from: ``extends``, an ``effective_from`` to fill in,
    a ``changes`` entry per changed section with its old and new sentences for the planner
    to restate in fi, sv and en, and the rules to revisit. It does not pass ``check`` until
    the planner has filled it in, on purpose."""
    today = today or dt.date.today()
    out = [f"# Version {version} of {base.policy}: a skeleton written by rehab-rules review on "
           f"{today.isoformat()}",
           f"# from {text_name} against version {base.version}. Fill in effective_from and "
           "each change's fi, sv and en,",
           "# then, for every rule listed below, write it anew under rules: (the same id), "
           "take it away",
           "# (remove: {rules: [id]}), or say under reviewed: why it stands as it is. Then run "
           "rehab-rules check."]
    to_revisit = [c for c in revision.changes if c.rules]
    if to_revisit:
        out.append("#")
        for change in to_revisit:
            out.append(f"# {change.kind} {change.title}: the rules that cite it")
            for rule in change.rules:
                reads = parameters_read(base, rule)
                gone = "; its quote is gone" if rule.id in change.quotes_gone else ""
                out.append(f"#   {rule.id} ({rule.effect}, {', '.join(rule.actions)}"
                           + (f"; reads {', '.join(reads)}" if reads else "") + f"{gone})")
    out += [f"policy: {base.policy}",
            f'version: "{version}"',
            f'extends: "{base.version}"',
            "# FILL IN: the first day this revision is in force, YYYY-MM-DD",
            "effective_from:"]
    if revision.changes:
        out.append("changes:")
    for change in revision.changes:
        out.append(f"  # {change.kind} {change.title}")
        removed = change.removed_sentences
        added = change.added_sentences
        for label, sentences in (("was", removed), ("now", added)):
            for i, sentence in enumerate(sentences):
                out += _comment(sentence, f"  #   {label if i == 0 else '   '}  ",
                                "  #          ")
        out.append("  # say in fi, sv and en what changed, for the people who read decisions")
        section = change.after or change.before
        assert section is not None
        out += [f"  - cite: {_quoted(section.title)}", '    fi: ""', '    sv: ""', '    en: ""']
    standing = [r.id for c in to_revisit for r in c.rules if r.id not in c.quotes_gone]
    if to_revisit:
        out += ["# reviewed:            # each inherited rule that stands as it is, and why",
                f"#   {standing[0] if standing else 'RULE-ID'}: the words it rests on stand in "
                "the new text as they were"]
    return "\n".join(out) + "\n"


# -- check: the rules a revision's overlay left unreviewed ---------------------------------

def unreviewed_problems(version: PolicyVersion, base: PolicyVersion,
                        reviewed_at: dict[str, tuple[str, int]] | None = None,
                        ) -> list[Problem]:
    """Every rule of ``base`` that cites a section the overlay's own text changed and that the
    overlay neither changed, took away nor listed under ``reviewed:`` — at the section's
    heading in the new text; and a ``reviewed:`` entry whose rule cites no changed section,
    at its line (``reviewed_at``: rule id → where it is written)."""
    if version.text is None or base.text is None or version.text is base.text:
        changed: set[str] = set()
        problems: list[Problem] = []
    else:
        problems, changed = _unreviewed(version, base)
    for rid, where in (reviewed_at or {}).items():
        rule = next((r for r in base.rules if r.id == rid), None)
        if rule is not None and set(rule.sections) & changed:
            continue
        sections = ", ".join(rule.sections) if rule is not None and rule.sections else "none"
        problems.append(Problem(*where, f"reviewed: {rid} cites no section that changed "
                                f"against {base.version} (its sections: {sections}); take it "
                                "out", "nothing_to_review"))
    return problems


def _unreviewed(version: PolicyVersion, base: PolicyVersion) -> tuple[list[Problem], set[str]]:
    assert version.text is not None and base.text is not None
    new_rules = {r.id: r for r in version.rules}
    by_number = citing(base)
    problems = []
    changed: set[str] = set()
    for change in compare_texts(base.text.fi, version.text.fi):
        if change.kind != "changed" or change.after is None:
            continue
        changed.add(change.number)
        for rule in by_number.get(change.number, ()):
            now = new_rules.get(rule.id)
            if now is None or rule.id in version.reviewed or now.describe() != rule.describe():
                continue
            problems.append(Problem(
                version.text.fi.path, change.after.line,
                f"section {change.after.title} changed against {base.version}, and rule "
                f"{rule.id} ({rule.path}:{rule.line}) cites it: version {version.version} "
                "neither changes it nor says it stands — write it anew under rules:, take it "
                f"away (remove: {{rules: [{rule.id}]}}), or add reviewed: {{{rule.id}: why it "
                f"stands}} to {version.version}.yaml", "unreviewed_rule"))
    return problems, changed

