"""The only module that imports durable_rules; one decision = one short-lived session.

Built around what was measured (``../shared/design/durable-rules.md``):

* ``QuietHost`` — no 0.2 s background timer threads, which otherwise steal pending actions and
  make the request see no match (§3).
* Facts are *asserted* (every matching rule fires), never posted (only the first fires) (§2).
* Every pattern is ANDed with ``{'$nex': {'$s': 1}}`` so no rule matches the session's own
  state fact and loops forever (§1, upstream #288).
* A sentinel rule matches every request, so an action always runs; without it, deleting a
  session in which nothing ran frees uninitialised memory (§2).
* Each decision gets a fresh session id and the session is deleted in ``finally``; each message
  carries a unique ``id`` so the same content twice is never "already observed".
* One process-wide lock around every call: the C code has no locks and never releases the GIL,
  so threads gain nothing from running it concurrently and lose everything if they do (§3).
* Ruleset definitions are deep-copied (creation mutates them) and removed with
  ``delete_ruleset`` when a reload retires them (§4).
* Facts are serialised here, not by durable: its JSON parser refuses exponent notation
  (``1e-05`` → error 204, found by the differential test), so floats are written as plain
  decimals.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from decimal import Decimal
from typing import Any

import durable_rules_engine
from durable import engine as durable_engine

from engine.compiler import ActionPlan
from engine.errors import EvaluationError

__all__ = ["DurableEvaluator", "Prepared", "dumps"]

GUARD = {"$nex": {"$s": 1}}
_LOCK = threading.Lock()
_HOST: durable_engine.Host | None = None
_sids = itertools.count(1)
_names = itertools.count(1)


class _QuietHost(durable_engine.Host):
    """A durable_rules host without the dispatch and timer threads."""

    def _run(self) -> None:
        return None


def _host() -> durable_engine.Host:
    global _HOST
    if _HOST is None:
        _HOST = _QuietHost()
    return _HOST


_FIRED: list[int] = []      # the rules fired by the one decision in flight (under _LOCK)


def _recorder(index: int):
    # Recorded here rather than in the session state: durable_rules serialises the state
    # after every action, so a growing state costs JSON work per fired rule.
    def run(c: Any) -> None:
        _FIRED.append(index)
    return run


def _definition(plan: ActionPlan) -> dict[str, Any]:
    rules: dict[str, Any] = {}
    for i, compiled in enumerate(plan.rules):
        condition = copy.deepcopy(compiled.condition)
        rules[f"r{i}"] = {"all": [{"m": {"$and": [GUARD, condition]}}], "run": _recorder(i)}
    rules["sentinel"] = {
        "pri": 1_000_000,
        "all": [{"m": {"$and": [GUARD, {"$ex": {"sid": 1}}]}}],
        "run": lambda c: None,
    }
    return rules


def _number(x: float) -> str:
    text = repr(x)
    if "e" in text or "E" in text:                 # 1e-05 → 0.00001
        text = format(Decimal(text), "f")
        if "." not in text:
            text += ".0"
    return text


def dumps(fact: dict[str, Any]) -> str:
    """JSON of a flat fact in the form durable_rules' parser reads (no exponents).

    >>> dumps({"x": 1e-05, "s": "ä", "n": 3})
    '{"x":0.00001,"s":"ä","n":3}'
    """
    if not any(type(v) is float and v and not 1e-4 <= abs(v) < 1e16 for v in fact.values()):
        return json.dumps(fact, ensure_ascii=False, separators=(",", ":"))
    parts = []
    for key, value in fact.items():
        text = _number(value) if isinstance(value, float) else json.dumps(
            value, ensure_ascii=False)
        parts.append(f"{json.dumps(key, ensure_ascii=False)}:{text}")
    return "{" + ",".join(parts) + "}"


class Prepared:
    """A registered ruleset, known by its unique name."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class DurableEvaluator:
    """Evaluates compiled plans on durable_rules, one session per decision."""

    def prepare(self, plan: ActionPlan) -> Prepared:
        """Register the plan's ruleset under a name no other load has used."""
        name = f"{plan.name}~{next(_names)}"
        with _LOCK:
            _host().set_rulesets({name: _definition(plan)})
        return Prepared(name)

    def fired(self, prepared: Prepared, message: dict[str, Any]) -> list[int]:
        """Indices of the plan's rules that match ``message`` (a flat dict of scalars)."""
        sid = f"d{next(_sids)}"
        fact = dict(message, id=sid, sid=sid)
        with _LOCK:
            host = _host()
            _FIRED.clear()
            try:
                ruleset = host.get_ruleset(prepared.name)

                def assert_fact(f: dict[str, Any]) -> Any:
                    result = durable_rules_engine.assert_fact(ruleset._handle, dumps(f))
                    return ruleset._handle_result(result, f)

                state = host._handle_function(ruleset, assert_fact, fact, None)
            except Exception as exc:     # the engine's own error codes, MemoryError, …
                raise EvaluationError(f"rule engine failed: {exc}") from exc
            finally:
                try:
                    host.delete_state(prepared.name, sid)
                except Exception:        # 309: the session was never created
                    pass
            fired = sorted(set(_FIRED))  # once per rule, though each true $or branch fires
        state = state or {}
        if "exception" in state:
            raise EvaluationError(f"rule action failed: {state['exception']}")
        return fired

    def release(self, prepared: Prepared) -> None:
        """Remove a retired ruleset from the engine (no decision may still be using it)."""
        with _LOCK:
            host = _host()
            ruleset = host._ruleset_directory.pop(prepared.name, None)
            if ruleset is None:
                return
            host._ruleset_list.remove(ruleset)
            durable_rules_engine.delete_ruleset(ruleset._handle)

    @staticmethod
    def registered() -> list[str]:
        """Names of the rulesets currently in the engine (for tests of reload)."""
        with _LOCK:
            return sorted(_host()._ruleset_directory)
