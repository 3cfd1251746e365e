"""The difference between two resolved versions of one policy: what a planner reviews.

A new version is usually an overlay of a few lines, but what it *means* is only visible once
both versions are resolved into full versions: which table cell changed, which rules read that
cell (directly or through a derived value), which rule's condition or message now reads
differently. This module compares the resolved :class:`~engine.model.PolicyVersion` objects,
not their files, so a reordered key, a re-wrapped expression or a comment shows nothing, while
one changed cell of a 1,000-row table shows as exactly one entry.

The same :class:`PolicyDiff` is printed by ``rehab-rules diff`` (:meth:`PolicyDiff.to_text`,
in fi, sv or en) and served by ``GET /v1/policies/{policy}/diff`` (:meth:`PolicyDiff.to_dict`).

>>> from pathlib import Path
>>> from engine.store import load_folder
>>> _, policies, _, _ = load_folder(Path(__file__).parent.parent / "policies")
>>> tt = policies["tyokokeilu-tyohonvalmennus"]
>>> diff = diff_versions(tt.versions[0], tt.versions[1], tt.versions)
>>> [(p.name, p.kind) for p in diff.parameters]
[('rehab_day_hours', 'removed'), ('rehab_day_min_hours', 'added')]
>>> [(r.name, r.kind) for r in diff.rules]   # doctest: +NORMALIZE_WHITESPACE
[('TT-1-day-length', 'changed'), ('TT-1-workplace-hours', 'changed'),
 ('TT-1-longer-day-goal', 'added')]
>>> print(diff.to_text("en").splitlines()[1])
Effective from: 2023-01-01 → 2025-04-01
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine import expressions as ex
from engine.model import LANGUAGES, ActionSpec, PolicyVersion, Rule, json_form

__all__ = [
    "KINDS",
    "LABELS",
    "Change",
    "ItemDiff",
    "ParameterDiff",
    "PolicyDiff",
    "diff_versions",
    "parameters_read",
    "word_changes",
]

KINDS = ("added", "removed", "changed")

# Every word the text form prints, in one place. Keys of the policy format (when, message.fi,
# facts.hours.min …) are printed as planners write them, untranslated.
LABELS: dict[str, dict[str, str]] = {
    "fi": {
        "effective_from": "Voimassa alkaen",
        "notes": "Muutosmerkinnät, versio {version}",
        "title": "Nimi",
        "source": "Lähde",
        "parameters": "Parametrit",
        "actions": "Toiminnot ja niiden tiedot",
        "rules": "Säännöt",
        "labels": "Nimet ja selitteet",
        "added": "lisätty",
        "removed": "poistettu",
        "changed": "muutettu",
        "read_by": "Säännöt, jotka lukevat tätä",
        "nobody": "ei yksikään sääntö",
        "no_differences": "Ei eroja.",
    },
    "sv": {
        "effective_from": "Gäller från",
        "notes": "Ändringsanteckningar, version {version}",
        "title": "Titel",
        "source": "Källa",
        "parameters": "Parametrar",
        "actions": "Åtgärder och deras uppgifter",
        "rules": "Regler",
        "labels": "Benämningar och förklaringar",
        "added": "tillagd",
        "removed": "borttagen",
        "changed": "ändrad",
        "read_by": "Regler som läser den",
        "nobody": "ingen regel",
        "no_differences": "Inga skillnader.",
    },
    "en": {
        "effective_from": "Effective from",
        "notes": "Change notes, version {version}",
        "title": "Title",
        "source": "Source",
        "parameters": "Parameters",
        "actions": "Actions and their facts",
        "rules": "Rules",
        "labels": "Labels and help",
        "added": "added",
        "removed": "removed",
        "changed": "changed",
        "read_by": "Rules that read it",
        "nobody": "no rule",
        "no_differences": "No differences.",
    },
}

_FORMATTER = string.Formatter()
_SHORT = 60          # a value longer than this is printed on lines of its own


@dataclass(frozen=True)
class Change:
    """One changed cell: a parameter's value or table cell, a rule's part, a fact's attribute.

    ``path`` names it from the top (``("course_types", "sidekudos-aikuiset", "min_size")``,
    ``("message", "fi")``); ``before`` is absent for ``added``, ``after`` for ``removed``.
    ``read_by`` is set on a derived value: the rules that read it.
    """

    path: tuple[str, ...]
    kind: str
    before: Any = None
    after: Any = None
    read_by: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def items(self) -> tuple[list[Any], list[Any]] | None:
        """For a changed list: the items added and the items removed (a list is written
        whole in an overlay; these are what the planner changed in it)."""
        if self.kind != "changed" or not isinstance(self.before, (list, tuple)) \
                or not isinstance(self.after, (list, tuple)):
            return None
        old, new = [json_form(v) for v in self.before], [json_form(v) for v in self.after]
        return [v for v in new if v not in old], [v for v in old if v not in new]

    @property
    def words(self) -> tuple[tuple[str, str], ...] | None:
        """For a changed text or expression: its words, kept (``same``), taken out
        (``removed``) or put in (``added``), so a reader sees the one word that changed
        (:func:`word_changes`); None for anything else."""
        if self.kind != "changed" or not isinstance(self.before, str) \
                or not isinstance(self.after, str):
            return None
        return word_changes(self.before, self.after)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "path": list(self.path), "change": self.kind}
        if self.kind != "added":
            out["from"] = json_form(self.before)
        if self.kind != "removed":
            out["to"] = json_form(self.after)
        if self.items is not None:
            out["added_items"], out["removed_items"] = self.items
        if self.read_by is not None:
            out["read_by"] = list(self.read_by)
        return out


@dataclass(frozen=True)
class ParameterDiff:
    """One parameter added, removed or changed (cell by cell), and the rules that read it."""

    name: str
    kind: str
    before: Any = None
    after: Any = None
    cells: tuple[Change, ...] = ()
    read_by: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.kind == "changed":
            out["cells"] = [c.to_dict() for c in self.cells]
        else:
            out["value"] = json_form(self.after if self.kind == "added" else self.before)
        out["read_by"] = list(self.read_by)
        return out


@dataclass(frozen=True)
class ItemDiff:
    """A rule (by id) or an action (by name) added, removed or changed part by part.

    An added or removed item carries its whole public description; a changed one its parts.
    """

    name: str
    kind: str
    description: dict[str, Any] = field(default_factory=dict)
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class PolicyDiff:
    """Everything that differs from version ``before`` to version ``after`` of one policy."""

    policy: str
    before: str
    after: str
    effective_from: tuple[dt.date, dt.date]
    notes: tuple[tuple[str, tuple[dict[str, str], ...]], ...]   # (version, its `changes`)
    title: tuple[Change, ...]
    source: tuple[Change, ...]
    parameters: tuple[ParameterDiff, ...]
    actions: tuple[ItemDiff, ...]
    rules: tuple[ItemDiff, ...]
    # what people call the names (labels:), per name and language
    labels: tuple[Change, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the two versions decide alike and read alike (dates and notes aside)."""
        return not (self.title or self.source or self.parameters or self.actions or self.rules
                    or self.labels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able content, dates as ISO text, in a stable order: the API's answer."""
        return {
            "policy": self.policy,
            "from": self.before,
            "to": self.after,
            "effective_from": {"from": self.effective_from[0].isoformat(),
                               "to": self.effective_from[1].isoformat()},
            "notes": [{"version": v, "changes": [dict(n) for n in notes]}
                      for v, notes in self.notes],
            "title": [c.to_dict() for c in self.title],
            "source": [c.to_dict() for c in self.source],
            "parameters": {kind: [p.to_dict() for p in self.parameters if p.kind == kind]
                           for kind in KINDS},
            "actions": _items_dict(self.actions, "name"),
            "rules": _items_dict(self.rules, "id"),
            "labels": [c.to_dict() for c in self.labels],
        }

    def to_text(self, lang: str = "fi") -> str:
        """The diff for people: section headings and change words in ``lang``; what decides
        first (rules, then parameters, then actions and their facts), the source's
        description last."""
        words = LABELS[lang]
        lines = [f"{self.policy}: {self.before} → {self.after}",
                 f"{words['effective_from']}: {self.effective_from[0].isoformat()} → "
                 f"{self.effective_from[1].isoformat()}"]
        for version, notes in self.notes:
            lines.append(words["notes"].format(version=version) + ":")
            for note in notes:
                text = " ".join(str(note.get(lang, "")).split())
                lines.append(f"  - {note['cite']}: {text}" if note.get("cite")
                             else f"  - {text}")
        if self.rules:
            lines.append(f"{words['rules']}:")
            for item in self.rules:
                lines += _item_lines(item, "rules", words, lang)
        if self.parameters:
            lines.append(f"{words['parameters']}:")
            for p in self.parameters:
                if p.kind == "changed":
                    for c in p.cells:
                        lines += _change_lines(c, words, "  ")
                else:
                    lines += _change_lines(Change((p.name,), p.kind, p.before, p.after),
                                           words, "  ")
                lines.append(f"    {words['read_by']}: "
                             f"{', '.join(p.read_by) or words['nobody']}")
        if self.actions:
            lines.append(f"{words['actions']}:")
            for item in self.actions:
                lines += _item_lines(item, "actions", words, lang)
        if self.labels:
            lines.append(f"{words['labels']}:")
            for c in self.labels:
                lines += _change_lines(c, words, "  ")
        for key, changes in (("title", self.title), ("source", self.source)):
            if changes:
                lines.append(f"{words[key]}:")
                for c in changes:
                    lines += _change_lines(c, words, "  ")
        if self.empty:
            lines.append(words["no_differences"])
        return "\n".join(lines) + "\n"


def diff_versions(before: PolicyVersion, after: PolicyVersion,
                  versions: Sequence[PolicyVersion] = ()) -> PolicyDiff:
    """What changed from ``before`` to ``after`` (two versions of one policy).

    ``versions`` (all versions of the policy, optional) lets the diff gather the change notes
    of every version it spans, so a diff across a chain of overlays (2024-01 → 2026-01) also
    shows the notes of 2025-01; without it only ``after``'s own notes are shown.
    """
    readers = _readers(before, after)
    return PolicyDiff(
        policy=after.policy,
        before=before.version,
        after=after.version,
        effective_from=(before.effective_from, after.effective_from),
        notes=_notes(before, after, versions),
        title=tuple(_cells(("title",), _by_language(before.title),
                           _by_language(after.title))),
        source=tuple(_cells(("source",), before.source, after.source)),
        parameters=_parameters(before, after, readers),
        actions=_actions(before, after, readers),
        rules=_rules(before, after),
        labels=tuple(_cells((), {n: x.describe() for n, x in before.labels.items()},
                            {n: x.describe() for n, x in after.labels.items()})),
    )


# --- notes --------------------------------------------------------------------------------

def _notes(before: PolicyVersion, after: PolicyVersion, versions: Sequence[PolicyVersion],
           ) -> tuple[tuple[str, tuple[dict[str, str], ...]], ...]:
    """The `changes` notes of each version after the earlier one up to the later one."""
    low, high = sorted((before, after), key=lambda v: v.effective_from)
    if not versions:
        spanned = [after] if after is not before else []
    else:
        spanned = [v for v in versions
                   if low.effective_from < v.effective_from <= high.effective_from]
    return tuple((v.version, tuple(v.changes)) for v in spanned if v.changes)


# --- cells ----------------------------------------------------------------------------------

def _keys(before: Mapping[Any, Any], after: Mapping[Any, Any]) -> list[Any]:
    """Keys in the order planners wrote them: the earlier version's, then the new ones."""
    return [*before, *(k for k in after if k not in before)]


def _cells(path: tuple[str, ...], before: Any, after: Any) -> Iterable[Change]:
    """Every changed leaf under ``path``: mappings are descended key by key, anything else
    (a number, a text, a list) is one cell shown whole before and after."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in _keys(before, after):
            here = (*path, str(key))
            if key not in after:
                yield Change(here, "removed", before=before[key])
            elif key not in before:
                yield Change(here, "added", after=after[key])
            else:
                yield from _cells(here, before[key], after[key])
    elif not _same(before, after):
        yield Change(path, "changed", before, after)


def _same(a: Any, b: Any) -> bool:
    """Equal as values: 6 and 6.0 are, but True and 1 are not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _same_expr(a: str | None, b: str | None) -> bool:
    """Two expression sources mean the same: re-wrapping or parentheses are no change."""
    if a is None or b is None:
        return a is b
    if a == b:
        return True
    try:
        return ex.parse(a) == ex.parse(b)
    except ex.ExprError:
        return " ".join(a.split()) == " ".join(b.split())


def _expr_cell(path: tuple[str, ...], a: str | None, b: str | None) -> list[Change]:
    if _same_expr(a, b):
        return []
    kind = "added" if a is None else "removed" if b is None else "changed"
    return [Change(path, kind, _one_line(a), _one_line(b))]


def _by_language(texts: Mapping[str, str]) -> dict[str, str]:
    """fi, sv, en first, whatever order the file wrote them in."""
    order = [*LANGUAGES, *sorted(set(texts) - set(LANGUAGES))]
    return {k: texts[k] for k in order if k in texts}


def _one_line(source: str | None) -> str | None:
    return None if source is None else " ".join(source.split())


# --- parameters and who reads them ----------------------------------------------------------

_Readers = dict[tuple[str, ...], list[str]]


def _parameters(before: PolicyVersion, after: PolicyVersion,
                readers: _Readers) -> tuple[ParameterDiff, ...]:
    out = []
    for name in _keys(before.parameters, after.parameters):
        read_by = tuple(readers.get(("parameter", name), ()))
        if name not in after.parameters:
            out.append(ParameterDiff(name, "removed", before=before.parameters[name],
                                     read_by=read_by))
        elif name not in before.parameters:
            out.append(ParameterDiff(name, "added", after=after.parameters[name],
                                     read_by=read_by))
        else:
            cells = tuple(_cells((name,), before.parameters[name], after.parameters[name]))
            if cells:
                out.append(ParameterDiff(name, "changed", before.parameters[name],
                                         after.parameters[name], cells, read_by))
    return tuple(out)


def _rule_names(rule: Rule) -> set[str]:
    """Every name a rule reads: its condition, due date, results and message placeholders."""
    names: set[str] = set()
    for source in (rule.when_source, rule.due_source, *rule.set_sources.values()):
        if source:
            try:
                names.update(ex.names_in(ex.parse(source)))
            except ex.ExprError:      # checked at load; a broken one reads nothing here
                pass
    for template in rule.message.values():
        try:
            names.update(f for _, f, _, _ in _FORMATTER.parse(template) if f)
        except ValueError:
            pass
    return names


def _closure(names: set[str], action: ActionSpec | None) -> set[str]:
    """``names`` and, through the action's derived values, everything they read in turn."""
    derived = {d.name: d for d in action.derived} if action else {}
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in derived:
            todo.extend(derived[name].reads)
    return seen


def parameters_read(version: PolicyVersion, rule: Rule) -> tuple[str, ...]:
    """The parameters ``rule`` reads in ``version``, directly or through derived values, in
    the version's order: what a planner revisits when the words the rule rests on change."""
    names: set[str] = set()
    for action in rule.actions:
        names |= _closure(_rule_names(rule), version.actions.get(action))
    return tuple(n for n in version.parameters if n in names)


def _readers(*versions: PolicyVersion) -> _Readers:
    """(``"parameter"``, name) or (``"derived"``, action, name) → rule ids that read it,
    directly or through derived values, in either version (the later version's order first)."""
    out: _Readers = {}
    for version in reversed(versions):
        for rule in version.rules:
            direct = _rule_names(rule)
            for action_name in rule.actions:
                action = version.actions.get(action_name)
                derived = {d.name for d in action.derived} if action else set()
                for name in _closure(direct, action):
                    if name in version.parameters:
                        key: tuple[str, ...] = ("parameter", name)
                    elif name in derived:
                        key = ("derived", action_name, name)
                    else:
                        continue
                    ids = out.setdefault(key, [])
                    if rule.id not in ids:
                        ids.append(rule.id)
    return out


# --- actions and facts ----------------------------------------------------------------------

def _actions(before: PolicyVersion, after: PolicyVersion,
             readers: _Readers) -> tuple[ItemDiff, ...]:
    out = []
    for name in _keys(before.actions, after.actions):
        if name not in after.actions:
            out.append(ItemDiff(name, "removed", before.actions[name].describe()))
        elif name not in before.actions:
            out.append(ItemDiff(name, "added", after.actions[name].describe()))
        else:
            changes = _action_changes(before.actions[name], after.actions[name], readers)
            if changes:
                out.append(ItemDiff(name, "changed", changes=changes))
    return tuple(out)


def _action_changes(a: ActionSpec, b: ActionSpec, readers: _Readers) -> tuple[Change, ...]:
    changes = list(_cells(("title",), _by_language(a.title), _by_language(b.title)))
    changes += _cells(("facts",), {n: f.describe() for n, f in a.facts.items()},
                      {n: f.describe() for n, f in b.facts.items()})
    da = {d.name: d for d in a.derived if not d.hidden}
    db = {d.name: d for d in b.derived if not d.hidden}
    for name in _keys(da, db):
        old, new = da.get(name), db.get(name)
        if old is not None and new is not None and old.expr == new.expr:
            continue
        for c in _expr_cell(("derived", name), old and old.source, new and new.source):
            changes.append(Change(c.path, c.kind, c.before, c.after,
                                  tuple(readers.get(("derived", b.name, name), ()))))
    if a.version_by != b.version_by:
        changes.append(Change(("version_by",), "changed", a.version_by, b.version_by))
    return tuple(changes)


# --- rules ----------------------------------------------------------------------------------

def _rules(before: PolicyVersion, after: PolicyVersion) -> tuple[ItemDiff, ...]:
    """Rules by id; moving a rule within the file is no change."""
    old = {r.id: r for r in before.rules}
    new = {r.id: r for r in after.rules}
    out = []
    for rid in _keys(old, new):
        if rid not in new:
            out.append(ItemDiff(rid, "removed", old[rid].describe()))
        elif rid not in old:
            out.append(ItemDiff(rid, "added", new[rid].describe()))
        else:
            changes = _rule_changes(old[rid], new[rid])
            if changes:
                out.append(ItemDiff(rid, "changed", changes=changes))
    return tuple(out)


def _rule_changes(a: Rule, b: Rule) -> tuple[Change, ...]:
    """The changed parts of one rule, in the order of the format: when, effect, due, set,
    message per language, cite per key, actions."""
    changes = _expr_cell(("when",), a.when_source, b.when_source)
    if a.effect != b.effect:
        changes.append(Change(("effect",), "changed", a.effect, b.effect))
    changes += _expr_cell(("due",), a.due_source, b.due_source)
    for key in _keys(a.set_sources, b.set_sources):
        changes += _expr_cell(("set", key), a.set_sources.get(key), b.set_sources.get(key))
    changes += _cells(("message",), _by_language(a.message), _by_language(b.message))
    changes += _cells(("cite",), a.cite, b.cite)
    if list(a.actions) != list(b.actions):
        changes.append(Change(("actions",), "changed", list(a.actions), list(b.actions)))
    return tuple(changes)


# --- words ----------------------------------------------------------------------------------

# a word (letters, digits, _), a run of spaces, or a run of other characters (operators,
# punctuation): a changed operator or parameter name is marked alone, and joining the
# pieces gives the text back exactly as it was
_TOKENS = re.compile(r"\w+|\s+|[^\w\s]+")


def word_changes(before: str, after: str) -> tuple[tuple[str, str], ...]:
    """``before`` → ``after`` as runs of text kept (``same``), taken out (``removed``) or
    put in (``added``), in reading order; the ``same`` and ``removed`` runs join to
    ``before``, the ``same`` and ``added`` runs to ``after``.

    >>> word_changes("hours_total != rehab_day_hours", "hours_total < rehab_day_min_hours")
    ... # doctest: +NORMALIZE_WHITESPACE
    (('same', 'hours_total '), ('removed', '!='), ('added', '<'), ('same', ' '),
     ('removed', 'rehab_day_hours'), ('added', 'rehab_day_min_hours'))
    """
    old, new = _TOKENS.findall(before), _TOKENS.findall(after)
    out: list[tuple[str, str]] = []

    def put(kind: str, text: str) -> None:
        if not text:
            return
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + text)
        else:
            out.append((kind, text))

    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            put("same", "".join(old[i1:i2]))
        else:
            put("removed", "".join(old[i1:i2]))
            put("added", "".join(new[j1:j2]))
    return tuple(out)


# --- output ---------------------------------------------------------------------------------

def _items_dict(items: tuple[ItemDiff, ...], key: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for item in items:
        if item.kind == "changed":
            out["changed"].append({key: item.name,
                                   "changes": [c.to_dict() for c in item.changes]})
        else:
            out[item.kind].append({key: item.name, **json_form(item.description)})
    return out


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple, Mapping)):
        return json.dumps(json_form(value), ensure_ascii=False)
    return str(json_form(value))


def _change_lines(c: Change, words: dict[str, str], indent: str) -> list[str]:
    """``changed name: 6 → 5``, or the two values on lines of their own when long."""
    head = f"{indent}{words[c.kind]} {c.name}"
    values = [_show(v) for v, k in ((c.before, "added"), (c.after, "removed")) if c.kind != k]
    if c.items is not None and (c.items[0] or c.items[1]):
        added, removed = c.items
        lines = [f"{head}: " + "; ".join(
            [*(f"{words['added']} {_show(v)}" for v in added),
             *(f"{words['removed']} {_show(v)}" for v in removed)])]
    elif all(len(v) <= _SHORT for v in values):
        lines = [f"{head}: {' → '.join(values)}"]
    else:
        marks = {"added": ["+"], "removed": ["-"], "changed": ["-", "+"]}[c.kind]
        lines = [f"{head}:", *(f"{indent}    {m} {v}" for m, v in zip(marks, values,
                                                                      strict=True))]
    if c.read_by is not None:
        lines.append(f"{indent}    {words['read_by']}: "
                     f"{', '.join(c.read_by) or words['nobody']}")
    return lines


def _item_lines(item: ItemDiff, section: str, words: dict[str, str], lang: str) -> list[str]:
    if item.kind == "changed":
        lines = [f"  {words['changed']} {item.name}"]
        for c in item.changes:
            lines += _change_lines(c, words, "    ")
        return lines
    d = item.description
    if section == "rules":
        head = f"  {words[item.kind]} {item.name} ({d['effect']}; {', '.join(d['actions'])})"
        lines = [head]
        if d.get("when"):
            lines.append(f"    when: {_one_line(d['when'])}")
        if d.get("message", {}).get(lang):
            lines.append(f"    message.{lang}: {d['message'][lang]}")
        return lines
    title = d.get("title", {}).get(lang)
    lines = [f"  {words[item.kind]} {item.name}" + (f" ({title})" if title else "")]
    for fact, spec in d.get("facts", {}).items():
        lines.append(f"    facts.{fact}: {_show(spec)}")
    for name, source in d.get("derived", {}).items():
        lines.append(f"    derived.{name}: {_one_line(source)}")
    return lines
