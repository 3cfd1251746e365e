"""durable_rules' condition semantics in Python: the compiled condition JSON, judged here.

A comparison with a missing field is false (``$neq`` too); ``$ex``/``$nex`` test presence;
``{"$m": field}`` on the right compares with another field of the same message. Used by the
pure-Python evaluator (:mod:`engine.pyeval`), the second opinion on durable_rules.

>>> matches({"$and": [{"$gte": {"a": 5}}, {"$neq": {"b": "x"}}]}, {"a": 5})
False
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

__all__ = ["compile_condition", "matches"]

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


def compile_condition(condition: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """``condition`` as a closure that decides what :func:`matches` decides, built once.

    >>> compile_condition({"$or": [{"$lt": {"a": 1}}, {"$ex": {"b": 1}}]})({"b": 0})
    True
    """
    (op, arg), = condition.items()
    if op in ("$and", "$or"):
        return _junction(op, tuple(compile_condition(c) for c in arg))
    (field, rvalue), = arg.items()
    if op == "$ex":
        return lambda m: field in m
    if op == "$nex":
        return lambda m: field not in m
    cmp = _CMP[op]
    if isinstance(rvalue, dict):
        other = rvalue["$m"]

        def against_field(m: dict[str, Any]) -> bool:
            return field in m and other in m and bool(cmp(m[field], m[other]))
        return against_field
    if op == "$eq":
        # a missing field is never equal: the marker equals nothing but itself
        return lambda m: bool(m.get(field, _ABSENT) == rvalue)

    def against_value(m: dict[str, Any]) -> bool:
        x = m.get(field, _ABSENT)
        return x is not _ABSENT and bool(cmp(x, rvalue))
    return against_value


_ABSENT = object()


def _junction(op: str, parts: tuple[Callable[[dict[str, Any]], bool], ...]
              ) -> Callable[[dict[str, Any]], bool]:
    """``$and``/``$or`` of compiled parts; two parts (the usual case) without a generator."""
    if len(parts) == 2:
        first, second = parts
        if op == "$and":
            return lambda m: first(m) and second(m)
        return lambda m: first(m) or second(m)
    if op == "$and":
        def all_of(m: dict[str, Any]) -> bool:
            for part in parts:
                if not part(m):
                    return False
            return True
        return all_of

    def any_of(m: dict[str, Any]) -> bool:
        for part in parts:
            if part(m):
                return True
        return False
    return any_of
