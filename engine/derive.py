"""Checked facts → every value the rules read → the flat message the rule engine sees.

The second step of a decision, after :mod:`engine.facts` has checked the request: parameters
and ``as_of`` join the facts, derived values are computed in declaration order (by closures
compiled once at load, :func:`engine.expressions.compile_expr`), and the scalar fields go into
the message durable_rules (or the Python evaluator) judges. A value a request makes
uncomputable is the caller's 422, naming the fact it read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine import expressions as ex
from engine.errors import FactError, FactProblem
from engine.functions import LookupMiss
from engine.model import ActionPlan, json_value

__all__ = ["compute", "derive", "message_for"]


def derive(plan: ActionPlan, facts: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
    """Every value the rules may read: parameters, facts, ``as_of``, derived values."""
    values = dict(plan.constants)
    values.update(facts)
    values["as_of"] = as_of
    try:
        for d, fn in zip(plan.derived, plan.derive_fns, strict=True):
            values[d.name] = fn(values)
    except _FAILURES:
        # again, one value at a time, so the failure is explained and blamed on a fact
        for d, fn in zip(plan.derived, plan.derive_fns, strict=True):
            values[d.name] = compute(d.expr, values, d.source, d.name, fn)
    return values


# what :func:`compute` turns into the caller's 422
_FAILURES = (LookupMiss, ValueError, OverflowError, ArithmeticError, TypeError)


def compute(expr: Any, values: dict[str, Any], source: str, name: str,
            fn: Any = None) -> Any:
    """Evaluate one expression; a failure blames the fact it read, as a :class:`FactError`.

    Used for derived values and for the ``set``/``due`` of fired rules alike, so a value a
    request makes uncomputable (an unknown table key, a date out of range) is the caller's
    422, never the service's 500.
    """
    try:
        return fn(values) if fn is not None else ex.evaluate(expr, values)
    except LookupMiss as miss:
        reads = ex.names_in(expr)
        field = next((n for n in reads if n != miss.table), name)
        known = ", ".join(miss.known)
        raise FactError({field: [FactProblem(
            "unknown_row", f"{miss.key!r} is not a known value; known: {known}",
            value=miss.key, known=list(miss.known))]}, code="unknown_key") from None
    except (ValueError, OverflowError, ArithmeticError, TypeError) as exc:
        field = next((n for n in ex.names_in(expr) if n in values), name)
        raise FactError({field: [FactProblem("cannot_compute", f"cannot compute {source}: {exc}",
                                             source=source, reason=str(exc))]}) from None


def message_for(plan: ActionPlan, values: dict[str, Any]) -> dict[str, Any]:
    """The flat fact durable_rules sees: scalar fields only, missing ones left out."""
    out = {}
    get = values.get
    plain, other = plan.message_fields
    for name in plain:                   # checked and typed: JSON as they are
        value = get(name)
        if value is not None:
            out[name] = value
    for name in other:
        value = get(name)
        kind = type(value)
        if kind is str or kind is int or kind is bool or kind is float:
            out[name] = value
        elif value is None or isinstance(value, (list, dict, tuple, ex.Table)):
            continue
        else:
            out[name] = json_value(value)
    return out
