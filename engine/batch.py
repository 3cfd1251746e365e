"""Many decisions in one call: :func:`decide_many`, the same answers as :func:`engine.decide`.

A batch (every rehabilitation day of a month, say) mostly asks the same policy, version and
action again and again. Deciding them one by one repeats what they share; here it is done
once per batch or per group:

1. every request is resolved first — its version (memoised per policy, action and day), its
   action plan — and put in the group of its plan (policy, version, action) and evaluator;
2. each group's facts are checked and derived, then evaluated together on the evaluator:
   durable_rules gets the derived values (:meth:`engine.backend.DurableEvaluator.fired_values`),
   writes each message's JSON straight from them, asserts each *distinct* message once
   (identical ones — a month of one participant's days asks the same thing many times —
   share the rules it fired, each item with a list of its own) and the group's messages as
   one list in one call; the Python evaluator gets the messages and loops over its closures
   once;
3. each decision is assembled with what its group shares (the version, the day, for each
   combination of fired rules their ids and each finding's citation and message) worked out
   once.

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
from engine.derive import _FAILURES, derive, message_for
from engine.errors import EngineError, EvaluationError, FactError
from engine.messages import render
from engine.model import LANGUAGES, ActionPlan, Decision, Evaluator, Finding, PolicyVersion
from engine.resolve import version_for
from engine.store import PolicySet, PolicyStore

__all__ = ["decide_many"]

# decide's keyword arguments: a request is a dict of them
_KEYWORDS = frozenset(p for p in inspect.signature(decide).parameters if p != "store")
_REQUIRED = frozenset({"policy", "action", "as_of", "facts"})


class _Group:
    """The requests of one plan (policy, version, action) and one evaluator, as tuples
    ``(index, facts, day, lang, chosen, pinned, explain, cite_text)``; after deriving,
    ``values`` run beside them."""

    __slots__ = ("evaluator", "items", "plan", "values", "version")

    def __init__(self, version: PolicyVersion, plan: ActionPlan, evaluator: Evaluator | None):
        self.version, self.plan, self.evaluator = version, plan, evaluator
        self.items: list[tuple[Any, ...]] = []
        self.values: list[dict[str, Any]] = []


def _checked_request(i: int, request: Any) -> None:
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
    call changes none of them). An ``evaluator`` a request names prepares each plan once for
    the requests that name it, and releases it when they are decided. Raises ``TypeError``
    for a request that is not ``decide``'s keywords and :class:`~engine.errors.PolicyError`
    when the store has nothing loaded.
    """
    requests = list(requests)
    answers: list[Any] = [None] * len(requests)
    with store.using() as policy_set:
        groups = _grouped(policy_set, requests, answers)
        bundle = policy_set.files.bundle
        for group in groups:
            _derive(group, answers)
            _assemble(group, _evaluate(store, policy_set, group), bundle, answers)
    return answers


def _grouped(policy_set: PolicySet, requests: list[Mapping[str, Any]],
             answers: list[Any]) -> list[_Group]:
    """Resolve each request in ``decide``'s order of checks and put it in its plan's group.

    A request whose version does not hang on its facts (no ``version_by`` fact) finds its
    group, day and version by its policy, action, ``as_of``, pinned version and evaluator
    in one look-up after the first of its kind."""
    resolver = _Resolver(policy_set)
    groups: dict[tuple[int, int], _Group] = {}
    seen: dict[tuple[Any, ...], tuple[_Group, dt.date, tuple[str, dt.date | None]]] = {}
    languages, keywords = LANGUAGES, _KEYWORDS
    last: tuple[Any, ...] = (None,) * 6
    key: tuple[Any, ...] | None = None
    for i, request in enumerate(requests):
        # decide's keywords (checked before anything is decided: grouping decides nothing)
        if type(request) is not dict or not keywords.issuperset(request):
            _checked_request(i, request)
        get = request.get
        lang = get("lang", "fi")
        pinned = get("version")
        evaluator = get("evaluator")
        try:
            facts = request["facts"]
            policy, action, as_of = request["policy"], request["action"], request["as_of"]
        except KeyError:
            _checked_request(i, request)     # names what is missing
            raise                            # pragma: no cover - it has raised
        # the very names of the request before (a batch built in a loop shares them): what
        # they found, without hashing them again
        if not (as_of is last[2] and policy is last[0] and action is last[1]
                and pinned is last[3] and evaluator is last[4]
                and (known := last[5]) is not None):
            try:
                key = (policy, action, as_of, pinned, id(evaluator))
                known = seen.get(key)
            except TypeError:            # an unhashable name: decide's own TypeError below
                key, known = None, None
            last = (policy, action, as_of, pinned, evaluator, known)
        if known is not None and lang in languages:
            group, day, chosen = known
        else:
            try:
                if lang not in languages:
                    raise FactError({"lang": [f"must be one of {', '.join(languages)}"]})
                day = _as_date(as_of)
                used, chosen = resolver.version(request, day)
                plan = resolver.plan(used, action)
            except EngineError as exc:
                answers[i] = exc
                continue
            group = groups.get((id(plan), id(evaluator)))
            if group is None:
                group = groups[(id(plan), id(evaluator))] = _Group(used, plan, evaluator)
            if key is not None and (pinned is not None or plan.action.version_by == "as_of"):
                seen[key] = (group, day, chosen)
        group.items.append((i, facts, day, lang, chosen, pinned is not None,
                            get("explain", False), get("cite_text", False)))
    return list(groups.values())


def _derive(group: _Group, answers: list[Any]) -> None:
    """Check and derive the group's facts; a refused item leaves the group."""
    plan = group.plan
    check, constants = plan.check, plan.constants
    steps = tuple(zip([d.name for d in plan.derived], plan.derive_fns, strict=True))
    kept, all_values = [], group.values
    keep, add = kept.append, all_values.append
    for item in group.items:
        # engine.derive.derive, with the plan's parts looked up once for the group
        try:
            checked = check(item[1])
            values = {**constants, **checked, "as_of": item[2]}
            try:
                for name, fn in steps:
                    values[name] = fn(values)
            except _FAILURES:            # derive explains it and blames a fact
                values = derive(plan, checked, item[2])
        except EngineError as exc:
            answers[item[0]] = exc
            continue
        keep(item)
        add(values)
    group.items = kept


def _messages(plan: ActionPlan, all_values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`engine.derive.message_for` of each item's values."""
    plain, other = plan.message_fields
    if other:
        return [message_for(plan, values) for values in all_values]
    # engine.derive.message_for when every field is plain
    return [{n: v for n in plain if (v := get(n)) is not None}
            for get in [values.get for values in all_values]]


def _evaluate(store: PolicyStore, policy_set: PolicySet, group: _Group) -> list[Any]:
    """The fired rules of each item (or its :class:`EvaluationError`), all in one call of the
    evaluator when it can take many; one at a time if that call fails, so each item gets
    exactly what ``decide`` would have got."""
    if not group.values:
        return []
    evaluator = group.evaluator
    if evaluator is None:
        return _fired(store.evaluator, policy_set.prepared[group.plan.name], group)
    prepared = evaluator.prepare(group.plan)
    try:
        return _fired(evaluator, prepared, group)
    finally:
        evaluator.release(prepared)


def _fired(evaluator: Evaluator, prepared: Any, group: _Group) -> list[Any]:
    """The evaluator's ``fired_values`` (durable_rules: the message JSON written straight
    from the values), else its ``fired_many`` of the messages, else ``fired`` of each."""
    values = getattr(evaluator, "fired_values", None)
    many = getattr(evaluator, "fired_many", None)
    messages = None
    try:
        if values is not None:
            return values(prepared, group.values)
        messages = _messages(group.plan, group.values)
        if many is not None:
            return many(prepared, messages)
    except EvaluationError:
        pass                    # again one by one: only the failing ones fail
    if messages is None:
        messages = _messages(group.plan, group.values)
    out: list[Any] = []
    for message in messages:
        try:
            out.append(evaluator.fired(prepared, message))
        except EngineError as exc:
            out.append(exc)
    return out


_NEW = tuple.__new__
_SLOT = {"deny": 0, "warn": 1, "info": 2}        # the effects a plain decision finds


def _assemble(group: _Group, fired: list[Any], bundle: int | None, answers: list[Any]) -> None:
    """Each item's :class:`Decision`, as :func:`engine.decide._decision` builds it.

    A decision whose fired rules only deny, warn or inform, without a trace, is built here
    from what the group shares: for each combination of fired rules, language and
    ``cite_text`` seen in the group, the rules' ids and each finding's parts (its message's
    text when it names no value) are worked out once (:func:`_shape`). Any other goes
    through ``_decision``.
    """
    version, plan = group.version, group.plan
    head = (version.policy, version.version, version.digest, plan.action.name)
    personal = plan.action.personal
    shapes: dict[tuple[Any, ...], Any] = {}
    new, finding_type, decision_type = _NEW, Finding, Decision
    # the fields around a decision's findings, for the day, language, choice and pin of the
    # item before (consecutive items of a group mostly share them): two tuples joined
    # instead of nineteen fields gathered one by one (joining is the cheaper, measured)
    now: tuple[Any, ...] = ()
    allow_front = deny_front = allow_back = back = ()
    for item, values, indices in zip(group.items, group.values, fired, strict=True):
        index, _, day, lang, chosen, pinned, explain, cite_text = item
        if type(indices) is not list and isinstance(indices, EngineError):
            answers[index] = indices
            continue
        if not now or day is not now[0] or lang is not now[1] or chosen is not now[2] \
                or pinned is not now[3]:
            now = (day, lang, chosen, pinned)
            deny_front = (*head, day, lang, "deny")
            allow_front = (*head, day, lang, "allow", (), (), (), ())
            back = (None, bundle, chosen[0], chosen[1], pinned, personal)
            allow_back = ((), *back)
        if not indices and not explain:  # nothing fired: nothing to find
            answers[index] = new(decision_type, allow_front + ({},) + allow_back)  # noqa: RUF005
            continue
        key = (*indices, lang, cite_text)
        shape = shapes.get(key)
        if shape is None and key not in shapes:
            shape = shapes[key] = None if explain else _shape(plan, indices, lang, cite_text)
        if shape is None or explain:
            try:
                answers[index] = _decision(version, plan, day, lang, values, indices, explain,
                                           bundle, pinned=pinned, chosen=chosen,
                                           cite_text=cite_text)
            except EngineError as exc:   # a set: or due: the facts make uncomputable
                answers[index] = exc
            continue
        ids, denies, parts = shape
        if denies:                       # deny only, no value in the messages
            if len(denies) == 1:
                rule_id, text, cite = denies[0]
                violations: tuple[Finding, ...] = (
                    new(finding_type, (rule_id, "deny", text, cite.copy(), None)),)
            else:
                violations = tuple([new(finding_type, (rule_id, "deny", text, cite.copy(), None))
                                    for rule_id, text, cite in denies])
            answers[index] = new(decision_type,
                                 deny_front + (violations, (), (), (), {}, ids) + back)  # noqa: RUF005
            continue
        found: tuple[list[Finding], list[Finding], list[Finding]] = ([], [], [])
        for slot, rule_id, effect, fixed, template, cite in parts:
            found[slot].append(new(finding_type, (
                rule_id, effect, render(template, values, lang) if fixed is None else fixed,
                cite.copy(), None)))
        deny, warn, info = found
        answers[index] = new(decision_type, (
            *head, day, lang, "deny" if deny else "allow", tuple(deny), tuple(warn),
            tuple(info), (), {}, ids, None, bundle, chosen[0], chosen[1], pinned, personal))


def _shape(plan: ActionPlan, indices: list[int], lang: str, cite_text: bool,
           ) -> tuple[tuple[str, ...], tuple[Any, ...], list[tuple[Any, ...]]] | None:
    """The fired rules' ids; when every one denies with a message naming no value, each
    finding's ``(id, text, cite)``; and per rule the parts of its finding, ``(slot, id,
    effect, text or None, template, cite)``, the text when the message names no value.
    None if a rule sets or obliges (``_decision`` builds that decision)."""
    parts = []
    for i in indices:
        rule = plan.rules[i].rule
        slot = _SLOT.get(rule.effect)
        if slot is None:
            return None
        template = rule.message[lang]
        fixed = render(template, {}, lang) if "{" not in template else None
        cite = rule.cites.get(f"{lang}+text" if cite_text else lang) or rule.cite
        parts.append((slot, rule.id, rule.effect, fixed, template, cite))
    denies = tuple((rule_id, fixed, cite) for slot, rule_id, _, fixed, _, cite in parts
                   if slot == 0 and fixed is not None)
    return (tuple([plan.rules[i].rule.id for i in indices]),
            denies if len(denies) == len(parts) else (), parts)
