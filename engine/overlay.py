"""Overlay versions: a version file that says ``extends: "<version>"`` holds only what changes.

A planner making version 2027-01 writes the new effective date, the ``changes`` notes and the
few parameters and rules that differ; everything else comes from the version it extends,
which may itself extend another (2027-01 → 2025-04 → 2023-01). Here the chain is resolved,
on the YAML documents, into one full document that the schema stage checks and the compiler
compiles exactly as if the planner had written it out.

One merge rule holds everywhere, so a planner never has to know which part merges how:

- a **mapping merges by key, at every depth**: a table of values by row, a table of rows by
  row and then by column, ``source``, ``title``, an action, its facts, each fact's settings;
  a key the overlay writes replaces or merges into the base's, every other key stays;
- a **list is replaced whole** — but an item of the base's list that the new list leaves out
  must be named under ``remove:``, or it is a problem (a planner adding one value who wrote
  only that value would otherwise drop the rest);
- **rules and checks** are items with an ``id``: one with the base's id replaces it whole, in
  place; a new one goes where it stands among the overlay's items (before the next base item
  the overlay names, else after the one before it, else at the end); an id written twice in
  the overlay is a problem;
- ``changes`` are the overlay's own: they say what changed in *this* version; so is
  ``reviewed:`` (the inherited rules that cite a changed section of the text and stand as
  they are, each with the reason);
- **nothing is removed except by name**, under one key::

      remove:
        rules: [TU-4-katso-identification]        # rules and checks by id
        parameters: [rehab_day_hours]             # keys of a mapping
        parameters.course_types: [sidekudos-aikuiset]   # rows of a table
        parameters.safety_areas: [tilat_ja_laitteet]    # items of a list
        actions.rehab_day.facts: [sick]

  Removals apply to the base before the overlay is merged, so removing a key and writing it
  anew replaces it whole (the way to give a parameter another kind of value).

What cannot be what the planner meant is a problem at the overlay's line, and the base's value
is kept, so one slip gives one problem and never a cascade in the untouched base file: a
value of another kind than the base's (a number where the base has a table: a line indented
wrongly), a new table row of the wrong shape, a column the table lacks, a new parameter named
like a fact or derived value, an action part (``facts``, ``derive``) written at the level of
actions. Every value keeps the file and line it came from, so a problem in an inherited rule
points at the base file and a problem in the overlay at the overlay.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from typing import Any

from engine.errors import Problem
from engine.loader import LineDict, LineList, locate, looks_typed
from engine.model import json_form

__all__ = ["BY_ID", "OVERLAY_ONLY", "merge", "resolve_policy"]

OVERLAY_ONLY = ("remove",)             # shapes the resolution, then goes
BY_ID = ("rules", "checks")            # lists of items told apart by their id
_ACTION_PARTS = ("facts", "derive", "title", "version_by")
_FACT_KEYS = ("type", "items", "optional", "default", "one_of", "min", "max", "kept_for")
_LEGACY = {"remove_rules": "rules", "remove_parameters": "parameters"}
_KEEP = object()                       # a merge that failed: the base's value stays


def resolve_policy(docs: dict[str, tuple[Any, str]],
                   ) -> tuple[dict[str, LineDict], dict[str, list[str]], list[Problem]]:
    """Resolve every version of one policy.

    ``docs`` maps version name → (document, file). Returns the resolved documents of the
    versions that resolve, each one's chain of bases (nearest first), and the problems.
    A document that is not a mapping is a problem here (never skipped).
    """
    resolved: dict[str, LineDict] = {}
    chains: dict[str, list[str]] = {}
    problems: list[Problem] = []
    failed: set[str] = set()
    for name, (doc, path) in sorted(docs.items()):
        if not isinstance(doc, LineDict):
            problems.append(Problem(path, getattr(doc, "line", 1) or 1,
                                    "the file must be a mapping of keys (policy, version, "
                                    "effective_from, rules …), not a list or a single value",
                                    "shape"))
            failed.add(name)

    def visit(name: str, stack: list[str]) -> LineDict | None:
        if name in resolved:
            return resolved[name]
        if name in failed:
            return None
        doc, path = docs[name]
        base_name = doc.get("extends")
        if base_name is None:
            resolved[name], chains[name] = doc, []
            return doc
        where = locate(doc, ["extends"], path)
        if not isinstance(base_name, str):
            problems.append(Problem(*where, "extends: write the version to extend in quotes, "
                                    'e.g. extends: "2025-04"', "bad_extends"))
            failed.add(name)
            return None
        if base_name not in docs:
            problems.append(Problem(*where, f"extends {base_name!r}, but this policy has no "
                                    f"such version; {_hint(base_name, docs)}versions: "
                                    f"{', '.join(sorted(docs))}", "unknown_base"))
            failed.add(name)
            return None
        if base_name == name or base_name in stack:
            ring = [*stack[stack.index(base_name):], name] if base_name in stack else [name]
            for i, member in enumerate(ring):     # every version in the circle says so
                turn = [*ring[i:], *ring[:i], member]
                member_doc, member_path = docs[member]
                problems.append(Problem(*locate(member_doc, ["extends"], member_path),
                                        f"extends makes a circle ({' → '.join(turn)}); a "
                                        "version extends an earlier one", "extends_cycle"))
                failed.add(member)
            return None
        base = visit(base_name, [*stack, name])
        if name in failed:                        # part of a circle: reported already
            return None
        if base is None:
            problems.append(Problem(*where, f"extends {base_name!r}, which does not load; "
                                    "fix that version first", "base_broken"))
            failed.add(name)
            return None
        merged, found = merge(base, doc, path, base_name)
        problems.extend(found)
        resolved[name], chains[name] = merged, [base_name, *chains[base_name]]
        return merged

    for name in sorted(docs):
        visit(name, [])
    return resolved, chains, problems


def _hint(name: Any, known: Any) -> str:
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f"did you mean {close[0]!r}? " if close else ""


# -- copies that keep their lines ----------------------------------------------------------

def _copy_dict(d: LineDict) -> LineDict:
    out = LineDict(d)
    out.line, out.source = d.line, d.source
    out.lines = dict(d.lines)
    out.sources = {k: d.source_of(k) or "" for k in d}
    return out


def _copy_list(items: LineList, keep: list[int] | None = None) -> LineList:
    keep = list(range(len(items))) if keep is None else keep
    out = LineList(items[i] for i in keep)
    out.line, out.source = items.line, items.source
    out.lines = [items.line_of(i) for i in keep]
    out.sources = [items.source_of(i) for i in keep]
    return out


def _clone(node: Any) -> Any:
    """A deep copy of a document's mappings and lists, lines and files kept."""
    if isinstance(node, LineDict):
        out = _copy_dict(node)
        for key, value in node.items():
            out[key] = _clone(value)
        return out
    if isinstance(node, LineList):
        out = _copy_list(node)
        for i, value in enumerate(node):
            out[i] = _clone(value)
        return out
    return node


def _put(out: LineDict, key: Any, value: Any, over: LineDict) -> None:
    """``out[key] = value``, remembering the overlay's line and file for it."""
    out[key] = value
    out.lines[key] = over.line_of(key)
    out.sources[key] = over.source_of(key) or ""


# -- merging -------------------------------------------------------------------------------

@dataclass
class _Merge:
    """One overlay being merged onto its base: where problems go, what it removes."""

    path: str
    base_name: str
    base: LineDict
    problems: list[Problem] = field(default_factory=list)
    # names taken away by ``remove:`` (parameters, facts, derived values) → where
    removed: dict[str, tuple[str, int]] = field(default_factory=dict)

    def add(self, node: Any, key: Any, message: str, code: str) -> None:
        where = locate(node, [key], self.path) if key is not None else \
            (getattr(node, "source", None) or self.path, getattr(node, "line", 1) or 1)
        self.problems.append(Problem(*where, message, code))


def merge(base: LineDict, over: LineDict, path: str,
          base_name: str) -> tuple[LineDict, list[Problem]]:
    """``over`` laid on ``base`` by the one merge rule (module docstring); the problems."""
    m = _Merge(path, base_name, base)
    start = _clone(base)
    if "remove" in over:
        _remove(start, over, m)
    out = _copy_dict(start)
    out.line, out.source = over.line, path
    out.pop("changes", None)                   # notes belong to the version that wrote them
    out.pop("reviewed", None)                  # so do the rules it reviewed
    out.removed = m.removed          # schema.py tells a reader of one at the remove: line
    remove = over.get("remove")
    out.remove_lines = {str(k): locate(remove, [k], path) for k in remove} \
        if isinstance(remove, LineDict) else {}
    for key, value in over.items():
        if key in OVERLAY_ONLY:
            continue
        if key in _LEGACY:
            ids = ", ".join(map(str, value)) if isinstance(value, list) else "…"
            m.add(over, key, f"{key} is written remove: {{{_LEGACY[key]}: [{ids}]}} — one "
                  "remove: takes away rules, parameters, table rows and list items", "bad_remove")
            continue
        if key in BY_ID and isinstance(start.get(key), LineList) \
                and isinstance(value, LineList):
            _put(out, key, _merge_by_id(start[key], value, key, m), over)
        elif key == "changes" or key not in start:
            _put(out, key, value, over)
        else:
            merged = _merge_value((key,), start[key], value, over, key, m)
            if merged is not _KEEP:
                _put(out, key, merged, over)
    return out, m.problems


def _merge_value(path: tuple[Any, ...], old: Any, new: Any, parent: LineDict, key: Any,
                 m: _Merge) -> Any:
    """The overlay's ``new`` merged onto the base's ``old`` at ``path``, or ``_KEEP``."""
    if isinstance(old, LineDict) and isinstance(new, LineDict):
        return _merge_mapping(path, old, new, m)
    if _kind(old, path) != _kind(new, path) and not _interchangeable(path, old, new) \
            and not (isinstance(new, str) and looks_typed(new)):     # the schema says so
        m.add(parent, key, f"{_dotted(path)} is {_describe(old)} in version {m.base_name}, "
              f"but {_describe(new)} here — is the line indented right? To give it another "
              f"kind of value, also take the old one away: remove: "
              f"{{{_dotted(path[:-1]) or 'parameters'}: [{path[-1]}]}}", "shape_changed")
        return _KEEP
    if isinstance(old, LineList) and isinstance(new, LineList) \
            and not _keeps_items(path, old, new, parent, key, m):
        return _KEEP
    return new


def _merge_mapping(path: tuple[Any, ...], old: LineDict, new: LineDict, m: _Merge) -> LineDict:
    out = _copy_dict(old)
    for key, value in new.items():
        here = (*path, key)
        if key in old:
            merged = _merge_value(here, old[key], value, new, key, m)
        elif _new_key_fits(path, old, key, value, new, m):
            merged = value
        else:
            merged = _KEEP
        if merged is not _KEEP:
            _put(out, key, merged, new)
    return out


def _new_key_fits(path: tuple[Any, ...], old: LineDict, key: Any, value: Any, new: LineDict,
                  m: _Merge) -> bool:
    """A key the base does not have: is it what the planner meant, by its place?"""
    table = _table_kind(old) if len(path) == 2 and path[0] == "parameters" else None
    if table and not _row_name_fits(path[1], old, key, new, m):
        return False
    if table == "rows":
        return _new_row_fits(path[1], old, key, value, new, m)
    if table == "values" and isinstance(value, dict):
        m.add(new, key, f"table {path[1]} holds one value per row, but {key} is given "
              f"columns — is the line indented right? Write it as {key}: <value>", "bad_row")
        return False
    if len(path) == 3 and path[0] == "parameters" and _table_kind(
            m.base.get("parameters", {}).get(path[1])) == "rows":
        columns = sorted(str(c) for c in old)
        m.add(new, key, f"table {path[1]} of version {m.base_name} has no column {key!r}; "
              f"{_hint(key, columns)}columns: {', '.join(columns)}", "unknown_column")
        return False
    if path == ("parameters",):
        return _new_parameter_fits(key, new, m)
    if len(path) == 3 and path[0] == "actions" and path[2] == "facts" and key in _FACT_KEYS:
        m.add(new, key, f"facts: {key} is a setting of a fact, not a fact — is the line "
              f"indented right? Write it under the fact it belongs to ({path[1]}: facts: "
              f"<fact>: {{{key}: …}})", "misplaced_key")
        return False
    if path == ("actions",) and key in _ACTION_PARTS:
        m.add(new, key, f"actions: {key} is a part of an action, not an action — is the line "
              f"indented right? Write it under the action it belongs to "
              f"(actions: <action>: {key}: …)", "misplaced_key")
        return False
    return True


def _row_name_fits(table: str, old: LineDict, key: Any, new: LineDict, m: _Merge) -> bool:
    """A new row named like a parameter is a line indented too far; one a letter away from
    a row the table has is a misspelling of it (the one meant would keep its old value)."""
    params = m.base.get("parameters")
    if isinstance(params, dict) and key in params:
        m.add(new, key, f"table {table}: {key} is the name of a parameter, not a row — is the "
              f"line indented right? A parameter is written at the level of {table}",
              "misplaced_key")
        return False
    near = next((str(k) for k in old if _one_slip(str(key), str(k))), None)
    if near is not None:
        m.add(new, key, f"table {table} has no row {key!r} — did you mean {near!r}? A row "
              f"to change is written as the base has it; a new row needs a name more than one "
              "letter from the others", "unknown_row")
        return False
    return True


def _one_slip(a: str, b: str) -> bool:
    """One letter added, dropped, changed or two swapped — not a digit for a digit (``k1``
    and ``k2`` are two rows), and not in a name shorter than four letters."""
    if a == b or min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) != len(b):
        short, long_ = sorted((a, b), key=len)
        return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return not (a[diff[0]].isdigit() and b[diff[0]].isdigit())
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] \
        and a[diff[1]] == b[diff[0]]


def _new_row_fits(table: str, old: LineDict, key: Any, value: Any, new: LineDict,
                  m: _Merge) -> bool:
    columns = sorted(str(c) for c in next(iter(old.values())))
    if not isinstance(value, dict):
        m.add(new, key, f"table {table}: {key} is a single value, but every row of the table "
              f"has columns ({', '.join(columns)}) — is the line indented right? If {key} is "
              "a column, indent it under its row", "bad_row")
        return False
    unknown = [c for c in value if str(c) not in columns]
    for column in unknown:
        m.add(value, column, f"table {table} of version {m.base_name} has no column "
              f"{column!r}; {_hint(column, columns)}columns: {', '.join(columns)}",
              "unknown_column")
    missing = [c for c in columns if c not in {str(k) for k in value}]
    if missing and not unknown:
        m.add(new, key, f"new row {key} of table {table} lacks {', '.join(missing)}: every "
              f"row has {', '.join(columns)}", "bad_row")
    return not unknown and not missing


def _new_parameter_fits(name: Any, new: LineDict, m: _Merge) -> bool:
    actions = m.base.get("actions")
    for action, spec in (actions.items() if isinstance(actions, dict) else ()):
        for part, kind in (("facts", "fact"), ("derive", "derived value")):
            names = spec.get(part) if isinstance(spec, dict) else None
            if isinstance(names, dict) and name in names:
                m.add(new, name, f"parameters: {name} is already a {kind} of action {action} "
                      f"in version {m.base_name}; a parameter needs a name of its own — is the "
                      "line indented right?", "name_clash")
                return False
    return True


def _keeps_items(path: tuple[Any, ...], old: LineList, new: LineList, parent: LineDict,
                 key: Any, m: _Merge) -> bool:
    """A list is replaced whole; what it leaves out of the base's list must be removed by
    name, so a planner who wrote only the value to add is told what else would go."""
    kept = [repr(json_form(v)) for v in new]
    dropped = [v for v in old if repr(json_form(v)) not in kept]
    if dropped:
        shown = ", ".join(str(json_form(v)) for v in dropped)
        m.add(parent, key, f"{_dotted(path)} leaves out {shown} of version {m.base_name}'s "
              f"list; a list is written whole — add {'them' if len(dropped) > 1 else 'it'} "
              f"to the list, or take {'them' if len(dropped) > 1 else 'it'} away by name: "
              f"remove: {{{_dotted(path)}: [{shown}]}}", "list_dropped")
    return not dropped


def _merge_by_id(base: LineList, over: LineList, what: str, m: _Merge) -> LineList:
    """Items whose ``id`` the base has replace it in place; new ones go where they stand
    among the overlay's items: before the next base item the overlay names after them, or
    else right after the item before them, or else at the end. An id written twice in the
    overlay is a problem; the first stands."""
    out = _copy_list(base)

    def ids() -> list[Any]:
        return [item.get("id") if isinstance(item, dict) else None for item in out]

    base_ids = set(ids()) - {None}
    keys = [item.get("id") if isinstance(item, dict) else None for item in over]
    first: dict[str, int] = {}
    last: int | None = None
    for j, item in enumerate(over):
        key, line, source = keys[j], over.line_of(j), over.source_of(j)
        if isinstance(key, str):
            if key in first:
                m.add(item, "id", f"{what[:-1]} id {key} is written twice in this file (first "
                      f"at line {first[key]}); ids must be unique — keep one", "duplicate_id")
                continue
            first[key] = line
        if isinstance(key, str) and key in base_ids:
            last = ids().index(key)
            out[last], out.lines[last], out.sources[last] = item, line, source
            continue
        later = next((k for k in keys[j + 1:] if isinstance(k, str) and k in base_ids), None)
        if later is not None:
            at = ids().index(later)
        else:
            at = len(out) if last is None else last + 1
        out.insert(at, item)
        out.lines.insert(at, line)
        out.sources.insert(at, source)
        last = at
    return out


# -- removing by name ----------------------------------------------------------------------

_REMOVE_EXAMPLE = ("e.g. remove: {rules: [TT-1-day-length], parameters.course_types: "
                   "[sidekudos-aikuiset]}")


def _remove(doc: LineDict, over: LineDict, m: _Merge) -> None:
    """Apply ``remove:`` to the (cloned) base, each unknown name a problem at its line."""
    remove = over["remove"]
    if not isinstance(remove, LineDict):
        m.add(over, "remove", "remove: a mapping of where → what to take away, "
              + _REMOVE_EXAMPLE, "bad_remove")
        return
    for where, names in remove.items():
        if not isinstance(names, LineList) or not names \
                or any(isinstance(n, (dict, list)) for n in names):
            m.add(remove, where, f"remove: {where}: a list of names, ids or values, "
                  + _REMOVE_EXAMPLE, "bad_remove")
            continue
        path = str(where).split(".")
        if path[0] in BY_ID and len(path) == 1:
            _remove_by_id(doc, path[0], names, m)
            continue
        container = _walk(doc, path, remove, where, m)
        if isinstance(container, LineDict):
            named = (len(path) == 1 and path[0] == "parameters") or (
                len(path) == 3 and path[0] == "actions" and path[2] in ("facts", "derive"))
            for j, name in enumerate(names):
                if name in container:
                    del container[name]
                    if named:
                        m.removed[str(name)] = locate(names, [j], m.path)
                else:
                    m.add(names, j, f"remove: {where}: version {m.base_name} has no {name!r} "
                          f"there; {_hint(name, container)}take it out of the list",
                          "unknown_name")
        elif isinstance(container, LineList):
            present = [repr(json_form(v)) for v in container]
            for j, name in enumerate(names):
                if repr(json_form(name)) not in present:
                    m.add(names, j, f"remove: {where}: version {m.base_name}'s list has no "
                          f"{name!r}; {_hint(name, [json_form(v) for v in container])}"
                          "take it out of the list", "unknown_name")
            gone = {repr(json_form(n)) for n in names}
            keep = [i for i, v in enumerate(container) if repr(json_form(v)) not in gone]
            kept = _copy_list(container, keep)          # in place: the parent holds it
            container[:] = kept
            container.lines, container.sources = kept.lines, kept.sources


def _walk(doc: LineDict, path: list[str], remove: LineDict, where: Any,
          m: _Merge) -> LineDict | LineList | None:
    node: Any = doc
    for depth, part in enumerate(path):
        if not isinstance(node, LineDict) or part not in node:
            known = [str(k) for k in node] if isinstance(node, LineDict) else []
            prefix = ".".join(path[:depth])
            close = difflib.get_close_matches(part, known, n=1)
            hint = f"did you mean {'.'.join([*path[:depth], close[0]])!r}? " if close else ""
            m.add(remove, where, f"remove: version {m.base_name} has no {'.'.join(path)!r}; "
                  f"{hint}name where to remove from as the base has it"
                  + (f" (under {prefix}: {', '.join(known[:12])})" if prefix and known else ""),
                  "unknown_name")
            return None
        node = node[part]
    if not isinstance(node, (LineDict, LineList)):
        m.add(remove, where, f"remove: {where} is a single value; take it away by name under "
              f"what holds it: remove: {{{'.'.join(path[:-1]) or 'parameters'}: "
              f"[{path[-1]}]}}", "bad_remove")
        return None
    return node


def _remove_by_id(doc: LineDict, what: str, ids: LineList, m: _Merge) -> None:
    items = doc.get(what)
    if not isinstance(items, LineList):
        m.add(ids, None, f"remove: {what}: version {m.base_name} has no {what}", "unknown_name")
        return
    have = [r.get("id") if isinstance(r, dict) else None for r in items]
    for j, rid in enumerate(ids):
        if rid not in have:
            m.add(ids, j, f"remove: {what}: version {m.base_name} has no {what[:-1]} {rid!r}; "
                  f"{_hint(rid, [i for i in have if isinstance(i, str)])}take it out of the "
                  "list", "unknown_rule" if what == "rules" else "unknown_check")
    gone = set(ids)
    doc[what] = _copy_list(items, [i for i, rid in enumerate(have) if rid not in gone])


# -- words ---------------------------------------------------------------------------------

def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


def _table_kind(value: Any) -> str | None:
    """"rows" for a table of rows, "values" for a table keyed by text, else None."""
    if not isinstance(value, dict) or not value:
        return None
    rows = [isinstance(v, dict) for v in value.values()]
    if all(rows):
        return "rows"
    return "values" if not any(rows) and not any(isinstance(v, list)
                                                 for v in value.values()) else None


def _kind(value: Any, path: tuple[Any, ...]) -> str:
    """What kind of value, as far as a merge cares: under ``parameters`` the value's type
    (rules read it by type), elsewhere only mapping or not."""
    if isinstance(value, dict):
        return "mapping"
    if path[0] != "parameters":
        return "value"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "yes/no"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dt.date):
        return "date"
    return "text"


def _interchangeable(path: tuple[Any, ...], old: Any, new: Any) -> bool:
    """A fact's ``one_of`` may be a list or name a table or list parameter."""
    return bool(path) and path[-1] == "one_of" and not isinstance(old, dict) \
        and not isinstance(new, dict)


def _describe(value: Any) -> str:
    kind = _table_kind(value)
    if kind == "rows":
        columns = ", ".join(sorted(str(c) for c in next(iter(value.values()))))
        return f"a table of rows (columns {columns})"
    if kind == "values":
        return "a table of values"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "yes/no"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    return f"a text ({value!r})" if value is not None else "empty"
