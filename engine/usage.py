"""What a version's rules, derived values, checks and messages read: the names nobody reads.

A planner who misspells a parameter in an overlay (``report_within_week: 3``) writes a new
parameter that nothing reads, and the one meant stays as it was; a table column nobody looks
up, a derived value no rule uses and a fact no rule reads are the same kind of slip. Here every
place that can read a name is gathered from the (resolved) version document — conditions, due
dates, results, derived values, checks, ``version_by``, ``one_of`` that names a parameter, and
message placeholders — so the schema stage can say which names nothing reads.

Reads are gathered from the raw texts, leniently: an expression that does not parse still
counts every name and every quoted text in it as read, so a broken rule is reported once, for
what is wrong with it, and never again as "nothing reads the parameter it uses".

>>> doc = {"parameters": {"weeks": 2, "unused": 1}, "actions": {"a": {"facts": {
...     "d": {"type": "date"}}, "derive": {"due": "add_weeks(d, weeks)"}}},
...     "rules": [{"action": "a", "when": "as_of > due", "message": {"en": "{weeks}"}}]}
>>> u = usage_of(doc)
>>> sorted(u.parameters), sorted(u.by_action["a"])
(['weeks'], ['as_of', 'd', 'due', 'weeks'])
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine import expressions as ex
from engine.model import LANGUAGES

__all__ = ["Usage", "expression_reads", "placeholders", "usage_of"]

_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class Usage:
    """What one version reads.

    ``parameters``: parameter names read anywhere; ``columns``: (table, column) pairs a
    lookup or a check reads; ``loose``: quoted texts of expressions that did not parse (any of
    them may be a column); ``by_action``: per action, every name its rules, derived values and
    ``version_by`` read (facts, derived values, parameters).
    """

    parameters: frozenset[str]
    columns: frozenset[tuple[str, str]]
    loose: frozenset[str]
    by_action: dict[str, frozenset[str]]

    def column_read(self, table: str, column: str) -> bool:
        return (table, column) in self.columns or column in self.loose


def expression_reads(text: Any) -> tuple[set[str], set[tuple[str, str]], set[str]]:
    """The names an expression reads, the (table, column) pairs its lookups read, and — when
    it does not parse — every quoted text in it (a column it may have meant)."""
    if not isinstance(text, str):
        return set(), set(), set()
    try:
        tree = ex.parse(text)
    except (ex.ExprError, RecursionError):
        return _loose(text)
    return set(ex.names_in(tree)), set(_columns(tree)), set()


def _loose(text: str) -> tuple[set[str], set[tuple[str, str]], set[str]]:
    names: set[str] = set()
    quoted: set[str] = set()
    for m in ex._TOKEN.finditer(text):
        if m.lastgroup == "name":
            names.add(m.group())
        elif m.lastgroup == "string":
            quoted.add(m.group()[1:-1])
    return names, set(), quoted


def _columns(node: Any) -> Iterable[tuple[str, str]]:
    """(table, column) of every lookup with a literal column in a parsed tree."""
    if isinstance(node, ex.Call):
        # lookup, lookup_or — or a misspelt name of either, reported for itself
        if len(node.args) >= 3 and isinstance(node.args[0], ex.Name) \
                and isinstance(node.args[2], ex.Lit) and isinstance(node.args[2].value, str):
            yield node.args[0].name, node.args[2].value
        for arg in node.args:
            yield from _columns(arg)
    elif isinstance(node, (ex.BoolOp, ex.ListLit)):
        for item in node.items:
            yield from _columns(item)
    elif isinstance(node, (ex.Arith, ex.Cmp)):
        yield from _columns(node.left)
        yield from _columns(node.right)
    elif isinstance(node, ex.InList):
        yield from _columns(node.left)
        yield from _columns(node.items)
    elif isinstance(node, (ex.Neg, ex.Not, ex.Is)):
        yield from _columns(node.operand)


def placeholders(message: Any) -> set[str]:
    """The ``{name}`` placeholders of a ``{fi, sv, en}`` message (a broken one reads none)."""
    out: set[str] = set()
    for text in (message.values() if isinstance(message, dict) else ()):
        try:
            out |= {f for _, f, _, _ in _FORMATTER.parse(str(text)) if f}
        except ValueError:
            pass
    return out


def usage_of(doc: Any) -> Usage:
    """Everything a version document reads (see :class:`Usage`); tolerant of any shape."""
    doc = doc if isinstance(doc, dict) else {}
    params = doc.get("parameters") if isinstance(doc.get("parameters"), dict) else {}
    actions = doc.get("actions") if isinstance(doc.get("actions"), dict) else {}
    names: set[str] = set()
    columns: set[tuple[str, str]] = set()
    loose: set[str] = set()
    by_action: dict[str, set[str]] = {str(a): set() for a in actions}

    def read(text: Any, into: set[str]) -> None:
        n, c, q = expression_reads(text)
        into |= n
        names.update(n)
        columns.update(c)
        loose.update(q)

    policy_by = doc.get("version_by")
    for action, spec in actions.items():
        spec = spec if isinstance(spec, dict) else {}
        mine = by_action[str(action)]
        derive = spec.get("derive") if isinstance(spec.get("derive"), dict) else {}
        for text in derive.values():
            read(text, mine)
        by = spec.get("version_by", policy_by)
        if isinstance(by, str):
            mine.add(by)
        facts = spec.get("facts") if isinstance(spec.get("facts"), dict) else {}
        for fact in facts.values():
            if isinstance(fact, dict) and isinstance(fact.get("one_of"), str):
                # the values' names in each language label them for people (the explorer)
                names.add(fact["one_of"])
                columns.update((fact["one_of"], lang) for lang in LANGUAGES)
    for rule in doc.get("rules") if isinstance(doc.get("rules"), list) else ():
        if not isinstance(rule, dict):
            continue
        targets = rule.get("action")
        targets = [targets] if isinstance(targets, str) else targets
        reads: set[str] = set()
        for key in ("when", "due"):
            read(rule.get(key), reads)
        for text in (rule.get("set") or {}).values() if isinstance(rule.get("set"), dict) else ():
            read(text, reads)
        reads |= placeholders(rule.get("message"))
        names.update(reads)
        for target in targets if isinstance(targets, list) else ():
            if isinstance(target, str) and target in by_action:
                by_action[target] |= reads
    for check in doc.get("checks") if isinstance(doc.get("checks"), list) else ():
        if not isinstance(check, dict):
            continue
        reads = set()
        read(check.get("that"), reads)
        reads |= placeholders(check.get("message"))
        names.update(reads)
        table = check.get("for_each")
        if isinstance(table, str):
            names.add(table)
            columns.update((table, n) for n in reads)
    return Usage(frozenset(n for n in names if n in params), frozenset(columns),
                 frozenset(loose), {a: frozenset(r) for a, r in by_action.items()})
