"""Many decisions in one call: :func:`decide_many`, the same answers as :func:`engine.decide`.

A batch (every rehabilitation day of a month, say) mostly asks the same policy, version and
action again and again. Deciding them one by one repeats what they share; here it is done
once per batch or per group:

1. every request is resolved first — its version (memoised per policy, action and day), its
   action plan — and put in the group of its plan (policy, version, action) and evaluator;
2. each group's facts are checked and derived, then evaluated together: durable_rules
   asserts the group's messages as one list in one call
   (:meth:`engine.backend.DurableEvaluator.fired_many`), the Python evaluator loops over its
   closures once;
3. each decision is assembled with what its group shares (the version, the day, each rule's
   citation and message) worked out once.

The answers come back in the order of the requests. A request the engine refuses is answered
*in its place* by the exception :func:`decide` would have raised for it — an
:class:`~engine.errors.EngineError` instance (``code``, ``message``, ``details``), not raised
— and does not sink the others. Anything else (a request that is not ``decide``'s keywords, a
store with nothing loaded, a bug) is raised, as ``decide`` would raise it.

>>> answers = decide_many(store, [dict(policy="demo", action="day", as_of="2025-03-10",
...                                    facts={"hours": 5})])        # doctest: +SKIP
>>> [a.outcome if isinstance(a, Decision) else a.code for a in answers]  # doctest: +SKIP
['deny']
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from engine.decide import _as_date, _decision, decide
from engine.derive import derive, message_for
from engine.errors import EngineError, EvaluationError, FactError
from engine.model import LANGUAGES, ActionPlan, Decision, Evaluator, PolicyVersion
from engine.resolve import version_for
from engine.store import PolicySet, PolicyStore

__all__ = ["decide_many"]

# decide's keyword arguments: a request is a dict of them
_KEYWORDS = frozenset(p for p in inspect.signature(decide).parameters if p != "store")
_REQUIRED = frozenset({"policy", "action", "as_of", "facts"})


class _Item:
    """One request on its way through its group."""

    __slots__ = ("chosen", "cite_text", "day", "explain", "facts", "index", "lang", "message",
                 "pinned", "values")

    def __init__(self, index: int, request: Mapping[str, Any], day: dt.date, lang: str,
                 chosen: tuple[str, dt.date | None]):
        self.index, self.day, self.lang, self.chosen = index, day, lang, chosen
        self.facts = request["facts"]
        self.explain = request.get("explain", False)
        self.cite_text = request.get("cite_text", False)
        self.pinned = request.get("version") is not None
        self.values: dict[str, Any] = {}
        self.message: dict[str, Any] = {}


class _Group:
    """The requests of one plan (policy, version, action) and one evaluator."""

    __slots__ = ("evaluator", "items", "plan", "version")

    def __init__(self, version: PolicyVersion, plan: ActionPlan, evaluator: Evaluator | None):
        self.version, self.plan, self.evaluator = version, plan, evaluator
        self.items: list[_Item] = []


def _checked_request(i: int, request: Any) -> Mapping[str, Any]:
    """A request must be ``decide``'s keywords: a caller's mistake, raised, not answered."""
    if not isinstance(request, Mapping):
        raise TypeError(f"request {i} is a {type(request).__name__}, not a dict of "
                        "decide's keyword arguments")
    keys = request.keys()
    if not keys <= _KEYWORDS:
        unknown = ", ".join(sorted(map(str, keys - _KEYWORDS)))
        raise TypeError(f"request {i}: decide has no argument {unknown}")
    if not _REQUIRED <= keys:
        missing = ", ".join(sorted(_REQUIRED - keys))
        raise TypeError(f"request {i}: missing {missing}")
    return request


class _Resolver:
    """:func:`decide`'s choice of version and plan, memoised for one batch on one set.

    Only successes are kept: a refused request is worked out again, so each gets its own
    exception, raised by the same code as in ``decide``.
    """

    def __init__(self, policy_set: PolicySet):
        self.set = policy_set
        self._first: dict[tuple[Any, Any, dt.date], tuple[PolicyVersion, str]] = {}
        self._pinned: dict[tuple[Any, Any], PolicyVersion] = {}
        self._plans: dict[tuple[str, str, Any], ActionPlan] = {}

    def version(self, request: Mapping[str, Any], day: dt.date,
                ) -> tuple[PolicyVersion, tuple[str, dt.date | None]]:
        policy, action, pinned = request["policy"], request["action"], request.get("version")
        if pinned is not None:
            used = self._pinned.get((policy, pinned))
            if used is None:
                used = self._pinned[(policy, pinned)] = self.set.get_version(policy, pinned)
            return used, ("version", None)
        known = self._first.get((policy, action, day))
        if known is not None and known[1] == "as_of":
            return known[0], ("as_of", day)
        used, chosen = version_for(self.set, policy, action, day, request["facts"])
        if known is None:
            first = self.set.resolve(policy, day)
            self._first[(policy, action, day)] = (
                first, self.plan(first, action).action.version_by)
        return used, chosen

    def plan(self, version: PolicyVersion, action: Any) -> ActionPlan:
        key = (version.policy, version.version, action)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self.set.plan(version, action)
        return plan


def decide_many(store: PolicyStore,
                requests: Iterable[Mapping[str, Any]]) -> list[Decision | EngineError]:
    """Decide every request (a dict of :func:`engine.decide`'s keyword arguments); the
    answers in the order of the requests, each a :class:`Decision` equal to what ``decide``
    answers, or the :class:`EngineError` it would have raised for that request.

    All requests are decided on one generation of the store's policies (a reload during the
    call changes none of them). Raises ``TypeError`` for a request that is not ``decide``'s
    keywords and :class:`~engine.errors.PolicyError` when the store has nothing loaded.
    """
    requests = [_checked_request(i, r) for i, r in enumerate(requests)]
    answers: list[Any] = [None] * len(requests)
    with store.using() as policy_set:
        groups = _grouped(policy_set, requests, answers)
        bundle = policy_set.files.bundle
        for group in groups:
            _derive(group, answers)
            fired = _evaluate(store, policy_set, group, answers)
            _assemble(group, fired, bundle, answers)
    return answers


def _grouped(policy_set: PolicySet, requests: list[Mapping[str, Any]],
             answers: list[Any]) -> list[_Group]:
    """Resolve each request in ``decide``'s order of checks and put it in its plan's group."""
    resolver = _Resolver(policy_set)
    groups: dict[tuple[int, int], _Group] = {}
    for i, request in enumerate(requests):
        try:
            lang = request.get("lang", "fi")
            if lang not in LANGUAGES:
                raise FactError({"lang": [f"must be one of {', '.join(LANGUAGES)}"]})
            day = _as_date(request["as_of"])
            used, chosen = resolver.version(request, day)
            plan = resolver.plan(used, request["action"])
        except EngineError as exc:
            answers[i] = exc
            continue
        evaluator = request.get("evaluator")
        key = (id(plan), id(evaluator))
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(used, plan, evaluator)
        group.items.append(_Item(i, request, day, lang, chosen))
    return list(groups.values())


def _derive(group: _Group, answers: list[Any]) -> None:
    """Check and derive the group's facts; a refused item leaves the group."""
    plan = group.plan
    check = plan.check
    kept = []
    for item in group.items:
        try:
            item.values = values = derive(plan, check(item.facts), item.day)
            item.message = message_for(plan, values)
        except EngineError as exc:
            answers[item.index] = exc
            continue
        kept.append(item)
    group.items = kept


def _evaluate(store: PolicyStore, policy_set: PolicySet, group: _Group,
              answers: list[Any]) -> list[Any]:
    """The fired rules of each item (or its :class:`EvaluationError`), all in one call of the
    evaluator when it can take many; one at a time if that call fails, so each item gets
    exactly what ``decide`` would have got."""
    messages = [item.message for item in group.items]
    if not messages:
        return []
    evaluator = group.evaluator
    if evaluator is None:
        return _fired(store.evaluator, policy_set.prepared[group.plan.name], messages)
    prepared = evaluator.prepare(group.plan)
    try:
        return _fired(evaluator, prepared, messages)
    finally:
        evaluator.release(prepared)


def _fired(evaluator: Evaluator, prepared: Any, messages: list[dict[str, Any]]) -> list[Any]:
    many = getattr(evaluator, "fired_many", None)
    if many is not None:
        try:
            return many(prepared, messages)
        except EvaluationError:
            pass                    # again one by one: only the failing ones fail
    out: list[Any] = []
    for message in messages:
        try:
            out.append(evaluator.fired(prepared, message))
        except EngineError as exc:
            out.append(exc)
    return out


def _assemble(group: _Group, fired: list[Any], bundle: int | None, answers: list[Any]) -> None:
    version, plan = group.version, group.plan
    for item, rules in zip(group.items, fired, strict=True):
        if isinstance(rules, EngineError):
            answers[item.index] = rules
            continue
        try:
            answers[item.index] = _decision(
                version, plan, item.day, item.lang, item.values, rules, item.explain, bundle,
                pinned=item.pinned, chosen=item.chosen, cite_text=item.cite_text)
        except EngineError as exc:       # a set: or due: the facts make uncomputable
            answers[item.index] = exc
