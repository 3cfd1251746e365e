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

from typing import Any

from engine.conditions import compile_condition, matches
from engine.model import ActionPlan

__all__ = ["PythonEvaluator", "compile_condition", "matches"]   # the last two re-exported


class PythonEvaluator:
    """Same interface as :class:`engine.backend.DurableEvaluator`: prepare, fired, fired_many,
    release.

    The conditions are compiled into closures once per plan (the compiler keeps them on each
    :class:`~engine.compiler.CompiledRule`), so preparing costs nothing.
    """

    def prepare(self, plan: ActionPlan) -> ActionPlan:
        return plan

    def fired(self, prepared: ActionPlan, message: dict[str, Any]) -> list[int]:
        return [i for i, match in prepared.matchers if match(message)]

    def fired_many(self, prepared: ActionPlan, messages: list[dict[str, Any]]) -> list[list[int]]:
        """:meth:`fired` of each message, in order (what :func:`engine.decide_many` calls)."""
        matchers = prepared.matchers
        return [[i for i, match in matchers if match(m)] for m in messages]

    def release(self, prepared: Any) -> None:
        return None
