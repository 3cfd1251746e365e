"""Overlay versions: a version file that says ``extends: "<version>"`` holds only what changes.

A planner making version 2027-01 writes the new effective date, the ``changes`` notes and the
few parameters and rules that differ; everything else comes from the version it extends,
which may itself extend another (2027-01 → 2025-04 → 2023-01). Here the chain is resolved,
on the YAML documents, into one full document that the schema stage checks and the compiler
compiles exactly as if the planner had written it out:

- ``parameters`` merge by name; a table merges by row, and a row by column (a column the
  base table lacks is a mistake, not a new column);
- ``actions`` merge by name; within one, ``facts`` and ``derive`` merge by name and the
  rest is replaced;
- ``rules`` replace the base rule with the same ``id`` in place; a new rule goes where it
  stands among the overlay's rules (before the next base rule the overlay names, else after
  the one before it), else at the end; ``remove_rules: [id, …]`` drops rules and
  ``remove_parameters: [name, …]`` drops parameters;
- ``checks`` replace by ``id`` or are added;
- ``changes`` are the overlay's own (they say what changed in *this* version); ``title``
  and ``source`` are inherited unless given.

Every value keeps the file and line it came from, so a problem in an inherited rule points
at the base file and a problem in the overlay at the overlay.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from engine.errors import Problem
from engine.loader import LineDict, LineList, locate

__all__ = ["OVERLAY_ONLY", "resolve_policy"]

OVERLAY_ONLY = ("remove_rules", "remove_parameters")   # they shape the resolution, then go


def resolve_policy(docs: dict[str, tuple[LineDict, str]],
                   ) -> tuple[dict[str, LineDict], dict[str, list[str]], list[Problem]]:
    """Resolve every version of one policy.

    ``docs`` maps version name → (document, file). Returns the resolved documents of the
    versions that resolve, each one's chain of bases (nearest first), and the problems.
    """
    resolved: dict[str, LineDict] = {}
    chains: dict[str, list[str]] = {}
    problems: list[Problem] = []
    failed: set[str] = set()

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
            close = difflib.get_close_matches(base_name, list(docs), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(Problem(*where, f"extends {base_name!r}, but this policy has no "
                                    f"such version; {hint}versions: {', '.join(sorted(docs))}",
                                    "unknown_base"))
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
        merged, found = _merge(base, doc, path, base_name)
        problems.extend(found)
        resolved[name], chains[name] = merged, [base_name, *chains[base_name]]
        return merged

    for name in sorted(docs):
        if isinstance(docs[name][0], LineDict):
            visit(name, [])
    return resolved, chains, problems


# -- merging -------------------------------------------------------------------------------

def _copy_dict(d: LineDict) -> LineDict:
    out = LineDict(d)
    out.line, out.source = d.line, d.source
    out.lines = dict(d.lines)
    out.sources = {k: d.source_of(k) or "" for k in d}
    return out


def _copy_list(items: LineList) -> LineList:
    out = LineList(items)
    out.line, out.source = items.line, items.source
    out.lines = list(items.lines)
    out.sources = [items.source_of(i) for i in range(len(items))]
    return out


def _put(out: LineDict, key: Any, value: Any, over: LineDict) -> None:
    """``out[key] = value``, remembering the overlay's line and file for it."""
    out[key] = value
    out.lines[key] = over.line_of(key)
    out.sources[key] = over.source_of(key) or ""


def _merge(base: LineDict, over: LineDict, path: str,
           base_name: str) -> tuple[LineDict, list[Problem]]:
    problems: list[Problem] = []
    out = _copy_dict(base)
    out.line, out.source = over.line, path
    out.pop("changes", None)                   # notes belong to the version that wrote them
    mergers: dict[str, Callable[..., Any]] = {
        "parameters": _merge_parameters, "actions": _merge_actions,
    }
    for key, value in over.items():
        if key in mergers and isinstance(base.get(key), LineDict) \
                and isinstance(value, LineDict):
            _put(out, key, mergers[key](base[key], value, problems, base_name), over)
        elif key in ("rules", "checks") and isinstance(base.get(key), LineList) \
                and isinstance(value, LineList):
            _put(out, key, _merge_by_id(base[key], value), over)
        elif key not in OVERLAY_ONLY:
            _put(out, key, value, over)
    if "remove_rules" in over:
        _remove_rules(out, over, path, base_name, problems)
    if "remove_parameters" in over:
        _remove_parameters(out, over, path, base_name, problems)
    return out, problems


def _is_table(value: Any) -> bool:
    return isinstance(value, LineDict) and bool(value) and all(
        isinstance(row, LineDict) for row in value.values())


def _merge_parameters(base: LineDict, over: LineDict, problems: list[Problem],
                      base_name: str) -> LineDict:
    out = _copy_dict(base)
    for name, value in over.items():
        old = base.get(name)
        if _is_table(old) and isinstance(value, LineDict):
            value = _merge_table(name, old, value, problems, base_name)
        _put(out, name, value, over)
    return out


def _merge_table(name: str, base: LineDict, over: LineDict, problems: list[Problem],
                 base_name: str) -> LineDict:
    """Rows by key; within a row that exists, cells by column, each column checked."""
    columns = sorted(next(iter(base.values())))
    out = _copy_dict(base)
    for row, cells in over.items():
        old = base.get(row)
        if isinstance(old, LineDict) and isinstance(cells, LineDict):
            merged = _copy_dict(old)
            for column, value in cells.items():
                if column not in old:
                    close = difflib.get_close_matches(str(column), columns, n=1)
                    hint = f"did you mean {close[0]!r}? " if close else ""
                    problems.append(Problem(
                        *locate(cells, [column], over.source or ""),
                        f"table {name} of version {base_name} has no column {column!r}; "
                        f"{hint}columns: {', '.join(columns)}", "unknown_column"))
                    continue
                _put(merged, column, value, cells)
            cells = merged
        _put(out, row, cells, over)
    return out


def _merge_actions(base: LineDict, over: LineDict, problems: list[Problem],
                   base_name: str) -> LineDict:
    out = _copy_dict(base)
    for name, spec in over.items():
        old = base.get(name)
        if isinstance(old, LineDict) and isinstance(spec, LineDict):
            merged = _copy_dict(old)
            for key, value in spec.items():
                if key in ("facts", "derive") and isinstance(old.get(key), LineDict) \
                        and isinstance(value, LineDict):
                    inner = _copy_dict(old[key])
                    for item, item_value in value.items():
                        _put(inner, item, item_value, value)
                    value = inner
                _put(merged, key, value, spec)
            spec = merged
        _put(out, name, spec, over)
    return out


def _merge_by_id(base: LineList, over: LineList) -> LineList:
    """Items whose ``id`` the base has replace it in place; new ones go where they stand
    among the overlay's items: before the next base item the overlay names after them, or
    else right after the item before them, or else at the end."""
    out = _copy_list(base)

    def ids() -> list[Any]:
        return [item.get("id") if isinstance(item, dict) else None for item in out]

    base_ids = set(ids()) - {None}
    keys = [item.get("id") if isinstance(item, dict) else None for item in over]
    last: int | None = None
    for j, item in enumerate(over):
        key, line, source = keys[j], over.line_of(j), over.source_of(j)
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


def _remove_rules(out: LineDict, over: LineDict, path: str, base_name: str,
                  problems: list[Problem]) -> None:
    remove = over["remove_rules"]
    where = locate(over, ["remove_rules"], path)
    if not isinstance(remove, LineList) or not all(isinstance(r, str) for r in remove):
        problems.append(Problem(*where, "remove_rules: a list of rule ids, e.g. "
                                "remove_rules: [TT-1-day-length]", "bad_remove"))
        return
    rules = out.get("rules")
    if not isinstance(rules, LineList):
        return
    ids = [r.get("id") if isinstance(r, dict) else None for r in rules]
    for j, rid in enumerate(remove):
        if rid not in ids:
            close = difflib.get_close_matches(rid, [i for i in ids if isinstance(i, str)], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(Problem(*locate(remove, [j], path),
                                    f"remove_rules: version {base_name} has no rule {rid!r}; "
                                    f"{hint}remove it from the list", "unknown_rule"))
    keep = [i for i, rid in enumerate(ids) if rid not in set(remove)]
    kept = LineList(rules[i] for i in keep)
    kept.line, kept.source = rules.line, rules.source
    kept.lines = [rules.line_of(i) for i in keep]
    kept.sources = [rules.source_of(i) for i in keep]
    out["rules"] = kept


def _remove_parameters(out: LineDict, over: LineDict, path: str, base_name: str,
                       problems: list[Problem]) -> None:
    remove = over["remove_parameters"]
    if not isinstance(remove, LineList) or not all(isinstance(r, str) for r in remove):
        problems.append(Problem(*locate(over, ["remove_parameters"], path),
                                "remove_parameters: a list of parameter names, e.g. "
                                "remove_parameters: [rehab_day_hours]", "bad_remove"))
        return
    params = out.get("parameters")
    if not isinstance(params, LineDict):
        return
    kept = _copy_dict(params)
    for j, name in enumerate(remove):
        if name not in params:
            close = difflib.get_close_matches(name, [str(k) for k in params], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(Problem(*locate(remove, [j], path),
                                    f"remove_parameters: version {base_name} has no parameter "
                                    f"{name!r}; {hint}remove it from the list",
                                    "unknown_parameter"))
            continue
        del kept[name]
    out["parameters"] = kept
