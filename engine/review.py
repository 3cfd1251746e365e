"""What ``check`` shows a planner before "ready to publish", beyond a valid file.

A version can load, pass every inherited case and still not be what the planner wrote: the
figure changed but an inherited message still says the old one in words; change notes were
written but the value written is the base's; a fact was added that no rule reads; a case the
base decided is now refused because the overlay took a row away; a section of the service
description's text that no rule cites and that does not say why it needs none; a section the
revision changed whose rules the overlay neither changed nor marked ``reviewed:``
(:mod:`engine.revision`). This module looks at each version against the version it extends
and says so, each as a problem at the line a planner edits, plus a short summary of what the
overlay changes.

Everything here reads loaded versions and the overlay's own file (for its lines); nothing is
decided, so ``check`` stays fast.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.diff import Change, PolicyDiff, diff_versions
from engine.errors import Problem
from engine.loader import LineDict, locate, read_yaml_bytes
from engine.model import LANGUAGES, PolicyVersion, Rule
from engine.revision import compare_texts, coverage_problems, unreviewed_problems
from engine.usage import expression_reads, placeholders

__all__ = ["SUMMARY_LINES", "Review", "blame_refusals", "is_refusal_change", "review_set"]

SUMMARY_LINES = 12        # per version in check's summary; rehab-rules diff shows the rest


@dataclass
class Review:
    """What ``check`` prints about the versions of a set: summary lines and problems."""

    summary: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def review_set(policies: dict[str, Any], files: Any) -> Review:
    """Review every version of every policy: overlays against their base, and every
    version's facts that no rule reads."""
    out = Review()
    for policy in policies.values():
        versions = {v.version: v for v in policy.versions}
        for version in policy.versions:
            doc = _document(files, version)
            out.problems += _unread_facts(version, doc)
            out.problems += [p for p in coverage_problems(version) if p not in out.problems]
            base = versions.get(version.extends) if version.extends else None
            if base is None or doc is None:
                continue
            diff = diff_versions(base, version)
            out.summary += _summary(version, diff)
            out.summary += _text_summary(version, base)
            out.summary += _unlabelled_summary(version, base)
            out.problems += _nothing_changed(version, base, diff, doc)
            out.problems += _old_figures(version, base, diff, doc)
            out.problems += _unnamed_removals(version, base, doc)
            reviewed = doc.get("reviewed")
            out.problems += unreviewed_problems(version, base, {
                str(rid): _at(doc, ["reviewed", rid], version) for rid in reviewed}
                if isinstance(reviewed, dict) else {})
    return out


def _text_summary(version: PolicyVersion, base: PolicyVersion) -> list[str]:
    """One line on the overlay's own text against its base's: which sections differ."""
    if version.text is None or version.text is base.text or base.text is None:
        return []
    changes = compare_texts(base.text.fi, version.text.fi)
    kinds = {k: [c.number for c in changes if c.kind == k]
             for k in ("changed", "added", "removed", "renumbered")}
    parts = [f"{len(v)} {k}" + (f" ({', '.join(v[:6])}{' …' if len(v) > 6 else ''})"
                                if v else "") for k, v in kinds.items() if v or k != "renumbered"]
    return [f"  text {version.text.fi.path.rsplit('/', 1)[-1]} against {base.version}'s: "
            + ", ".join(parts)]


def _unlabelled_summary(version: PolicyVersion, base: PolicyVersion) -> list[str]:
    """One line on the names the overlay adds without a label, where its base labels its
    names: the pages show them as bare identifiers (a note, not a problem)."""
    if not base.labels:
        return []
    before = set(base.unlabelled())
    new = [n for n in version.unlabelled() if n not in before]
    if not new:
        return []
    return [f"  no label yet (pages show the identifier; labels: in policies/README.md): "
            f"{', '.join(new[:8])}{' …' if len(new) > 8 else ''}"]


def _document(files: Any, version: PolicyVersion) -> LineDict | None:
    """The version's own file, read again for its lines (an overlay's, not the resolved)."""
    raw = files.files.get(f"{version.policy}/{version.version}.yaml") if files else None
    if raw is None:
        return None
    doc, _ = read_yaml_bytes(raw, version.path)
    return doc if isinstance(doc, LineDict) else None


def _at(doc: LineDict, path: list[Any], version: PolicyVersion) -> tuple[str, int]:
    return locate(doc, path, version.path)


# -- the summary -----------------------------------------------------------------------------

def _summary(version: PolicyVersion, diff: PolicyDiff) -> list[str]:
    """One line per change, in the words of the diff: what the overlay does to its base."""
    lines: list[str] = []
    for p in diff.parameters:
        for c in p.cells or (Change((p.name,), p.kind, p.before, p.after),):
            lines.append(_change_line("parameters", c, p.read_by))
    for item in diff.actions:
        if item.kind != "changed":
            lines.append(f"{item.kind} action {item.name}")
        for c in item.changes:
            lines.append(_change_line(f"actions.{item.name}", c, c.read_by))
    for item in diff.rules:
        parts = ", ".join(dict.fromkeys(c.path[0] for c in item.changes))
        lines.append(f"{item.kind} rule {item.name}" + (f" ({parts})" if parts else ""))
    for c in diff.labels:
        lines.append(_change_line("labels", c, None))
    counts = {k: sum(line.startswith(k) for line in lines) for k in ("added", "changed",
                                                                     "removed")}
    head = (f"{version.policy} {version.version} (extends {version.extends}): "
            f"{counts['added']} added, {counts['changed']} changed, {counts['removed']} removed")
    shown = [f"  {line}" for line in lines[:SUMMARY_LINES]]
    if len(lines) > SUMMARY_LINES:
        shown.append(f"  … and {len(lines) - SUMMARY_LINES} more: rehab-rules diff "
                     f"{version.policy} {version.extends} {version.version}")
    return [head, *shown]


def _change_line(section: str, c: Change, read_by: Iterable[str] | None) -> str:
    values = [_short(v) for v, k in ((c.before, "added"), (c.after, "removed")) if c.kind != k]
    shown = " → ".join(values)
    if c.items is not None and (c.items[0] or c.items[1]):
        shown = "; ".join([*(f"added {_short(v)}" for v in c.items[0]),
                           *(f"removed {_short(v)}" for v in c.items[1])])
    ids = list(read_by or ())
    more = f" and {len(ids) - 3} more" if len(ids) > 3 else ""
    readers = f"  (read by {', '.join(ids[:3])}{more})" if ids else ""
    return f"{c.kind} {section}.{c.name}: {shown}{readers}"


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        text = ", ".join(map(str, value))
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


# -- change notes that change nothing --------------------------------------------------------

def _nothing_changed(version: PolicyVersion, base: PolicyVersion, diff: PolicyDiff,
                     doc: LineDict) -> list[Problem]:
    if not version.changes or not diff.empty or doc.get("checks"):
        return []                         # (checks are not part of a loaded version)
    return [Problem(*_at(doc, ["changes"], version),
                    f"changes: this version says what changed, but it decides exactly as "
                    f"{base.version}: no parameter, fact, derived value or rule differs — is a "
                    "name misspelt, or a value written as the base has it?", "no_change")]


# -- old figures in inherited words ----------------------------------------------------------

_WORDS = {   # number words as service descriptions write them (fi: nominative and genitive)
    "fi": {2: ("kaksi", "kahden"), 3: ("kolme", "kolmen"), 4: ("neljä", "neljän"),
           5: ("viisi", "viiden"), 6: ("kuusi", "kuuden"), 7: ("seitsemän",),
           8: ("kahdeksan",), 9: ("yhdeksän",), 10: ("kymmenen",),
           12: ("kaksitoista", "kahdentoista")},
    "sv": {2: ("två",), 3: ("tre",), 4: ("fyra",), 5: ("fem",), 6: ("sex",), 7: ("sju",),
           8: ("åtta",), 9: ("nio",), 10: ("tio",), 12: ("tolv",)},
    "en": {2: ("two",), 3: ("three",), 4: ("four",), 5: ("five",), 6: ("six",),
           7: ("seven",), 8: ("eight",), 9: ("nine",), 10: ("ten",), 12: ("twelve",)},
}


def _figure(value: Any, lang: str) -> re.Pattern[str] | None:
    """The ways a text states ``value``: the digits, and its word up to twelve."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = int(value) if float(value).is_integer() else value
    digits = re.escape(str(number)).replace(r"\.", "[.,]")
    words = _WORDS.get(lang, {}).get(number, ()) if isinstance(number, int) else ()
    alternatives = [rf"(?<![\w.,{{-]){digits}(?![\w}}]|[.,]\d)",
                    *(rf"\b{w}\b" for w in words)]
    # with a word either side, so the planner sees the phrase to rewrite
    return re.compile(rf"(?:\S+\s+)?(?:{'|'.join(alternatives)})(?:\s+\S+)?", re.IGNORECASE)


def _old_figures(version: PolicyVersion, base: PolicyVersion, diff: PolicyDiff,
                 doc: LineDict) -> list[Problem]:
    """An inherited rule that reads a changed number and states its old value in words."""
    rules = {r.id: r for r in version.rules}
    out = []
    for p in diff.parameters:
        if p.kind != "changed":
            continue
        for cell in p.cells:
            if cell.kind != "changed":
                continue
            found = []
            column = cell.path[2] if len(cell.path) == 3 else None
            for rid in p.read_by:
                rule = rules.get(rid)
                if rule is None or rule.path == version.path:     # written anew: the planner's
                    continue
                if column and (cell.path[0], column) not in _columns_read(version, rule):
                    continue                                      # reads another column
                quotes = _stated(rule, cell.before)
                if quotes:
                    found.append(f"rule {rid}, inherited from {base.version} ({rule.path}:"
                                 f"{rule.line}), still says "
                                 + ", ".join(f"{q!r} ({where})" for where, q in quotes))
            if found:
                out.append(Problem(
                    *_at(doc, ["parameters", *cell.path], version),
                    f"{'.'.join(cell.path)} changes {_short(cell.before)} → "
                    f"{_short(cell.after)}, but {'; and '.join(found)} — write the rule in this "
                    f"overlay with its texts updated, or say it with {{{cell.path[0]}}}",
                    "old_figure"))
    return out


def _columns_read(version: PolicyVersion, rule: Rule) -> set[tuple[str, str]]:
    """(table, column) pairs a rule reads, itself or through its actions' derived values."""
    pairs: set[tuple[str, str]] = set()
    names: set[str] = set()
    for text in (rule.when_source, rule.due_source, *rule.set_sources.values()):
        found, columns, _ = expression_reads(text)
        names |= found
        pairs |= columns
    names |= placeholders(rule.message)
    for action in rule.actions:
        derived = {d.name: d for d in version.actions[action].derived}
        todo, seen = list(names), set()
        while todo:
            name = todo.pop()
            if name in seen or name not in derived:
                continue
            seen.add(name)
            found, columns, _ = expression_reads(derived[name].source)
            pairs |= columns
            todo += found
    return pairs


def _stated(rule: Rule, value: Any) -> list[tuple[str, str]]:
    texts = [(f"message.{lang}", rule.message.get(lang, ""), lang) for lang in LANGUAGES]
    for key in ("interpretation", "note"):
        note = rule.cite.get(key)
        if isinstance(note, dict):          # interpretation: {fi, sv, en}
            texts += [(f"cite.{key}.{lang}", str(note.get(lang, "")), lang)
                      for lang in LANGUAGES]
        elif note:
            texts.append((f"cite.{key}", note, "en"))
    out = []
    for where, text, lang in texts:
        pattern = _figure(value, lang)
        m = pattern.search(text) if pattern else None
        if m:
            out.append((where, " ".join(m.group().split())))
    return out


# -- removals the overlay did not name -------------------------------------------------------

def _unnamed_removals(version: PolicyVersion, base: PolicyVersion,
                      doc: LineDict) -> list[Problem]:
    """A value a fact could take before and cannot now, though ``remove:`` names it nowhere
    (a ``one_of`` switched to a table that lacks it): requests that sent it are refused."""
    named = _named_removals(doc)
    out = []
    for action, spec in version.actions.items():
        old_spec = base.actions.get(action)
        for fact, new in spec.facts.items():
            old = old_spec.facts.get(fact) if old_spec else None
            if old is None or old.one_of is None or new.one_of is None:
                continue
            gone = [v for v in old.one_of if v not in new.one_of
                    and str(v) not in named.get(f"parameters.{new.one_of_from}", ())
                    and str(v) not in named.get(f"actions.{action}.facts.{fact}.one_of", ())]
            if gone:
                shown = ", ".join(map(str, gone))
                out.append(Problem(
                    *_at(doc, ["actions", action, "facts", fact], version),
                    f"fact {fact} of action {action} can no longer take {shown}, which version "
                    f"{base.version} allowed, but remove: names {'them' if len(gone) > 1 else 'it'}"
                    f" nowhere — add {shown} to its values, or take "
                    f"{'them' if len(gone) > 1 else 'it'} away by name", "unnamed_removal"))
    return out


def _named_removals(doc: LineDict) -> dict[str, set[str]]:
    remove = doc.get("remove")
    if not isinstance(remove, dict):
        return {}
    return {str(k): {str(v) for v in vs} for k, vs in remove.items() if isinstance(vs, list)}


# -- facts nothing reads ---------------------------------------------------------------------

def _unread_facts(version: PolicyVersion, doc: LineDict | None) -> list[Problem]:
    """A fact no rule, derived value or ``version_by`` reads, declared by this version's own
    file and not marked ``kept_for:`` with the reason it is asked for."""
    if doc is None:
        return []
    out = []
    for name, action in version.actions.items():
        reads = _action_reads(version, name)
        for fact, spec in action.facts.items():
            path = ["actions", name, "facts", fact]
            if fact in reads or spec.kept_for or not _written(doc, path):
                continue
            out.append(Problem(*_at(doc, path, version),
                               f"fact {fact} of action {name} is read by no rule, derived "
                               "value or message — use it, take it away, or say why requests "
                               "send it with kept_for: (e.g. kept_for: the decision log shows "
                               "who signed)", "unread_fact"))
    return out


def _written(doc: LineDict, path: list[str]) -> bool:
    node: Any = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _action_reads(version: PolicyVersion, action: str) -> set[str]:
    spec = version.actions[action]
    reads = {spec.version_by}
    for derived in spec.derived:
        reads.update(derived.reads)
    for rule in version.rules_for(action):
        for text in (rule.when_source, rule.due_source, *rule.set_sources.values()):
            reads |= expression_reads(text)[0]
        reads |= placeholders(rule.message)
    return reads


# -- cases a new version refuses ------------------------------------------------------------

def is_refusal_change(result: Any) -> bool:
    """An inherited case that decided and is now refused, or the reverse."""
    expected_error = "error" in result.case.expect
    return bool(result.case.inherited_from) and not result.ok and (
        (result.error is not None) != expected_error)


def blame_refusals(results: list[Any], store: Any) -> list[Problem]:
    """Inherited cases now refused (or now decided), one problem per overlay line that
    explains them — the fact, the table or the ``remove:`` entry the refusal comes from —
    else per case. Never written as the new truth without asking."""
    groups: dict[tuple[str, int], list[Any]] = {}
    for r in results:
        groups.setdefault(_blame(r, store), []).append(r)
    out = []
    for where, rs in groups.items():
        first = rs[0]
        cases = "; ".join(f"{r.case.name!r} ({r.case.path}:{r.case.line})" for r in rs[:5])
        more = f" and {len(rs) - 5} more" if len(rs) > 5 else ""
        if first.error is None:
            what = (f"now decides ({first.decision.outcome}) where version "
                    f"{first.case.inherited_from} refused it")
        else:
            what = f"now {first.failures[0]}"
        out.append(Problem(*where, f"{len(rs)} inherited case{'s' if len(rs) > 1 else ''} of "
                           f"{first.case.policy} {first.case.version} {what} — {cases}{more}. "
                           "Did the overlay drop a row or a value, or make a fact required? "
                           "Give the cases what the new version needs, drop: them, or accept "
                           "them with --include-refusals", "now_refused"))
    return out


def _blame(result: Any, store: Any) -> tuple[str, int]:
    """The overlay line a refusal comes from, else the case's own line."""
    case = result.case
    try:
        version = store.get_version(case.policy, case.version)
    except Exception:
        return case.path, case.line
    doc = _document(store.current.files, version)
    spec = version.actions.get(case.action)
    details = getattr(result, "details", None) or {}
    if doc is None or spec is None:
        return case.path, case.line
    named = _named_removals(doc)
    for fact in details.get("fields", {}) or spec.facts:
        if _written(doc, ["actions", case.action, "facts", fact]):
            return _at(doc, ["actions", case.action, "facts", fact], version)
        fspec = spec.facts.get(fact)
        tables = {fspec.one_of_from} if fspec and fspec.one_of_from else set()
        tables |= {t for d in spec.derived if fact in d.reads for t in d.reads
                   if t in version.parameters}
        for table in sorted(tables):
            if f"parameters.{table}" in named:
                return _at(doc, ["remove", f"parameters.{table}"], version)
            if _written(doc, ["parameters", table]):
                return _at(doc, ["parameters", table], version)
    return case.path, case.line
