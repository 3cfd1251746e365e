"""What a rule's condition compared, one comparison at a time: the "why" of a trace.

A trace says a rule fired or stayed silent and which values it read; a provider asking why a
7-hour day was denied also needs the threshold each value was held against and where that
threshold comes from: ``hours_total = 7 ≠ 6 (rehab_day_hours)``. :func:`comparisons` walks a
rule's condition (the checked tree in negation normal form, as the loader keeps it in
:attr:`engine.model.Rule.when`) and judges each comparison with the given values, exactly as
:func:`engine.expressions.evaluate` does: a comparison with a missing value is false.

Pure: nothing is decided or logged here; the caller hands in the values the rule read (a
decision's trace) and the version's parameters. A personal value (``hidden``) is never
shown or judged: it reads ``***`` and the comparison's outcome is unknown.

>>> from engine import expressions as ex
>>> when = ex.negation_normal_form(ex.parse("sick == false and hours_total != rehab_day_hours"))
>>> [c.text() for c in comparisons(when, {"sick": False, "hours_total": 7},
...                                {"rehab_day_hours": 6})]
['sick = false = false', 'hours_total = 7 ≠ 6 (rehab_day_hours)']
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine import expressions as ex
from engine.model import Derived, json_form

__all__ = ["MASK", "SYMBOLS", "Comparison", "comparisons", "source_of"]

MASK = "***"

# how a page writes each operator; the policy file's own spelling is kept for the rest
SYMBOLS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


@dataclass(frozen=True)
class Comparison:
    """One test of a condition, judged.

    ``left`` is the source of the value tested (a fact, a derived value, a computed
    expression), ``right`` that of the value it was held against, None for a literal
    (``6``, ``"tyokokeilu"``) or a presence test. ``parameters`` are the policy parameters the
    threshold comes from, directly or through derived values. ``holds`` is None when a
    personal value was read.
    """

    left: str
    left_value: Any
    op: str                      # <, <=, >, >=, ==, !=, in, not in, is missing, is present
    right: str | None = None
    right_value: Any = None
    parameters: tuple[str, ...] = ()
    holds: bool | None = None

    @property
    def symbol(self) -> str:
        return SYMBOLS.get(self.op, self.op)

    def text(self) -> str:
        """``hours_total = 7 ≠ 6 (rehab_day_hours)``: the value, the operator, the
        threshold and, in parentheses, where the threshold comes from."""
        head = f"{self.left} = {_show(self.left_value)} {self.symbol}"
        if self.op in ("is missing", "is present"):
            return head
        where = [self.right] if self.right else []
        where += [p for p in self.parameters if p not in where]
        tail = f" ({', '.join(where)})" if where else ""
        return f"{head} {_show(self.right_value)}{tail}"

    def to_dict(self) -> dict[str, Any]:
        return {"left": self.left, "left_value": json_form(self.left_value), "op": self.op,
                "symbol": self.symbol, "right": self.right,
                "right_value": json_form(self.right_value),
                "parameters": list(self.parameters), "holds": self.holds,
                "text": self.text()}


def comparisons(when: Any, values: Mapping[str, Any], parameters: Mapping[str, Any],
                derived: Collection[Derived] = (), hidden: Collection[str] = (),
                ) -> tuple[Comparison, ...]:
    """Every comparison of the condition ``when`` (NNF tree; None for a rule without one),
    in the order written, judged with ``values`` (facts and derived values) and
    ``parameters`` (the version's; a mapping becomes a table, as the compiler makes it).

    ``derived`` (the action's derived values) lets a threshold read through a derived value
    name the parameter behind it (``service_max_days`` → ``max_days``); ``hidden`` are the
    personal facts, which are never shown or judged.
    """
    if when is None:
        return ()
    env = {name: ex.Table(name, v) if isinstance(v, dict) else v
           for name, v in parameters.items()}
    env.update(values)
    judge = _Judge(env, set(parameters), {d.name: d for d in derived}, set(hidden))
    return tuple(judge.walk(when))


class _Judge:
    def __init__(self, env: dict[str, Any], params: set[str], derived: dict[str, Derived],
                 hidden: set[str]):
        self.env, self.params, self.derived, self.hidden = env, params, derived, hidden

    def walk(self, node: Any) -> Iterator[Comparison]:
        if isinstance(node, ex.BoolOp):
            for item in node.items:
                yield from self.walk(item)
        elif isinstance(node, ex.Cmp):
            yield self.compare(node)
        elif isinstance(node, ex.InList):
            yield self.member(node)
        elif isinstance(node, ex.Is):
            value, secret = self.value(node.operand)
            yield Comparison(source_of(node.operand), value,
                             "is missing" if node.missing else "is present",
                             holds=None if secret else self.holds(node))
        # a literal true/false (a condition folded to a constant) compares nothing

    def compare(self, node: ex.Cmp) -> Comparison:
        op, left, right = node.op, node.left, node.right
        if self.constant(left) and not self.constant(right):
            op, left, right = _FLIP[op], right, left      # the threshold on the right
        lvalue, lsecret = self.value(left)
        rvalue, rsecret = self.value(right)
        return Comparison(source_of(left), lvalue, op, self.name(right), rvalue,
                          self.sources(right),
                          None if lsecret or rsecret else self.holds(ex.Cmp(op, left, right)))

    def member(self, node: ex.InList) -> Comparison:
        lvalue, lsecret = self.value(node.left)
        rvalue, rsecret = self.value(node.items)
        return Comparison(source_of(node.left), lvalue, "not in" if node.negate else "in",
                          self.name(node.items), rvalue, self.sources(node.items),
                          None if lsecret or rsecret else self.holds(node))

    def reads(self, node: Any) -> set[str]:
        """The names a node reads, and through derived values what those read in turn."""
        seen: set[str] = set()
        todo = list(ex.names_in(node))
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                if name in self.derived:
                    todo.extend(self.derived[name].reads)
        return seen

    def constant(self, node: Any) -> bool:
        """Reads no fact and no derived value: a literal or parameters only."""
        return all(n in self.params for n in ex.names_in(node))

    def sources(self, node: Any) -> tuple[str, ...]:
        reads = self.reads(node)
        return tuple(n for n in self.env if n in self.params and n in reads)

    def name(self, node: Any) -> str | None:
        return None if isinstance(node, ex.Lit) else source_of(node)

    def value(self, node: Any) -> tuple[Any, bool]:
        """The node's value, and whether it read a personal value (then it is masked)."""
        if self.reads(node) & self.hidden:
            return MASK, True
        try:
            value = ex.evaluate(node, self.env)
        except Exception:        # a lookup that misses: the decision says why, not this
            return None, False
        if isinstance(value, ex.Table):
            return value.rows, False
        return value, False

    def holds(self, node: Any) -> bool:
        try:
            return bool(ex.evaluate(node, self.env))
        except Exception:
            return False


def source_of(node: Any) -> str:
    """An expression as a planner would write it (parentheses around nested arithmetic)."""
    if isinstance(node, ex.Name):
        return node.name
    if isinstance(node, ex.Lit):
        return _show(node.value, quote=True)
    if isinstance(node, ex.Call):
        return f"{node.fn}({', '.join(source_of(a) for a in node.args)})"
    if isinstance(node, ex.Arith):
        rank = _RANK[node.op]
        left, right = source_of(node.left), source_of(node.right)
        if isinstance(node.left, ex.Arith) and _RANK[node.left.op] < rank:
            left = f"({left})"
        if isinstance(node.right, ex.Arith) and (_RANK[node.right.op] < rank or (
                _RANK[node.right.op] == rank and node.op in "-/")):
            right = f"({right})"
        return f"{left} {node.op} {right}"
    if isinstance(node, ex.Neg):
        return f"-{source_of(node.operand)}"
    if isinstance(node, ex.ListLit):
        return f"[{', '.join(source_of(i) for i in node.items)}]"
    if isinstance(node, ex.Cmp):
        return f"{source_of(node.left)} {node.op} {source_of(node.right)}"
    return repr(node)


_RANK = {"+": 1, "-": 1, "*": 2, "/": 2}


def _show(value: Any, quote: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if quote else value
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(json_form(value), ensure_ascii=False)
    return str(value)
