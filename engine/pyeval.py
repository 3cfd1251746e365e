"""A pure-Python evaluator of the compiled condition JSON: the second opinion.

durable_rules is an unmaintained C extension that has been seen to drop matches silently
(durable-rules.md §3). This evaluator reads the very same condition JSON the compiler hands
to durable_rules and applies durable_rules' measured semantics: a comparison with a missing
field is false (``$neq`` too), ``$ex``/``$nex`` test presence. The test suite runs both on
every fixture and on thousands of generated facts; any disagreement is a bug in one of them.
It can also decide on its own: ``decide(..., evaluator=PythonEvaluator())``.

>>> matches({"$and": [{"$gte": {"a": 5}}, {"$neq": {"b": "x"}}]}, {"a": 5})
False
"""

from __future__ import annotations

import operator
from typing import Any

from engine.compiler import ActionPlan

__all__ = ["PythonEvaluator", "matches"]

_CMP = {"$lt": operator.lt, "$lte": operator.le, "$gt": operator.gt, "$gte": operator.ge,
        "$eq": operator.eq, "$neq": operator.ne}


def matches(condition: dict[str, Any], message: dict[str, Any]) -> bool:
    """Does ``message`` satisfy ``condition`` as durable_rules would decide it?"""
    (op, arg), = condition.items()
    if op == "$and":
        return all(matches(c, message) for c in arg)
    if op == "$or":
        return any(matches(c, message) for c in arg)
    (field, rvalue), = arg.items()
    if op == "$ex":
        return field in message
    if op == "$nex":
        return field not in message
    if field not in message:
        return False
    if isinstance(rvalue, dict):
        other = rvalue["$m"]
        if other not in message:
            return False
        rvalue = message[other]
    return bool(_CMP[op](message[field], rvalue))


class PythonEvaluator:
    """Same interface as :class:`engine.backend.DurableEvaluator`: prepare, fired, release."""

    def prepare(self, plan: ActionPlan) -> ActionPlan:
        return plan

    def fired(self, prepared: ActionPlan, message: dict[str, Any]) -> list[int]:
        return [i for i, r in enumerate(prepared.rules) if matches(r.condition, message)]

    def release(self, prepared: ActionPlan) -> None:
        return None
