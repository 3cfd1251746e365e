"""One decision, top to bottom: resolve → check facts → derive → evaluate → Decision.

A caller may pin a version by name instead of resolving it by date: a what-if ("what would
the 2025-04 rules say about this day?"), and how fixture cases stay tied to their version
when a newer one arrives. ``as_of`` is still the date of the event (deadlines and ages are
computed from it); the decision says ``pinned`` so nobody mistakes it for the rules in force.

>>> store = PolicyStore.load("policies")                     # doctest: +SKIP
>>> d = decide(store, policy="tyokokeilu-tyohonvalmennus", action="rehab_day",
...            as_of="2025-03-10", facts={"service": "tyokokeilu", "hours_total": 7,
...            "hours_at_workplace": 6}, lang="en")          # doctest: +SKIP
>>> d.outcome, d.version                                     # doctest: +SKIP
('deny', '2023-01')
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.derive import compute, derive, message_for
from engine.errors import FactError, FactProblem
from engine.facts import parse_date
from engine.messages import render
from engine.model import (
    LANGUAGES,
    ActionPlan,
    Decision,
    Evaluator,
    Finding,
    PolicyVersion,
    Rule,
    TraceEntry,
)
from engine.resolve import version_for
from engine.store import PolicyStore

__all__ = ["decide"]


def _as_date(as_of: dt.date | str) -> dt.date:
    """``as_of`` as a date; the text of a recent one is parsed once (a day has many requests)."""
    day = _DAYS.get(as_of) if type(as_of) is str else None
    if day is not None:
        return day
    try:
        day = parse_date(as_of)
    except (ValueError, TypeError):
        raise FactError({"as_of": [FactProblem("not_date", "must be a date written "
                                                    "YYYY-MM-DD")]}) from None
    if type(as_of) is str:
        if len(_DAYS) >= 4096:           # bounded: a long replay must not grow it for ever
            _DAYS.clear()
        _DAYS[as_of] = day
    return day


_DAYS: dict[str, dt.date] = {}


def decide(store: PolicyStore, *, policy: str, action: str, as_of: dt.date | str,
           facts: dict[str, Any], lang: str = "fi", explain: bool = False,
           evaluator: Evaluator | None = None, version: str | None = None,
           cite_text: bool = False) -> Decision:
    """Decide ``action`` under the version of ``policy`` in force on ``as_of``.

    ``version`` names the version to use whatever ``as_of`` says, even a date before that
    version took effect (a what-if, so no ``NoVersionInForce``); an unknown name raises
    ``UnknownVersion``. Such a decision has ``pinned=True``.

    ``evaluator`` replaces the store's engine for this one call (the differential tests pass
    :class:`engine.pyeval.PythonEvaluator`).

    Each finding's ``cite`` carries, beside what the rule's ``cite`` says, the ``sections``
    of the version's text it names (number, heading); ``cite_text`` adds their sentences,
    for a reader who wants the words the rule rests on.
    """
    if lang not in LANGUAGES:
        raise FactError({"lang": [FactProblem("not_one_of", f"must be one of "
                                                  f"{', '.join(LANGUAGES)}", value=lang,
                                                  allowed=list(LANGUAGES))]})
    day = _as_date(as_of)
    with store.using() as policy_set:
        if version is None:
            used, chosen = version_for(policy_set, policy, action, day, facts)
        else:
            used, chosen = policy_set.get_version(policy, version), ("version", None)
        plan = policy_set.plan(used, action)
        values = derive(plan, plan.check(facts), day)
        message = message_for(plan, values)
        if evaluator is None:
            fired = store.evaluator.fired(policy_set.prepared[plan.name], message)
        else:
            fired = evaluator.fired(evaluator.prepare(plan), message)
        bundle = policy_set.files.bundle
    return _decision(used, plan, day, lang, values, fired, explain, bundle,
                     pinned=version is not None, chosen=chosen, cite_text=cite_text)


def _decision(version: PolicyVersion, plan: ActionPlan, day: dt.date, lang: str,
              values: dict[str, Any], fired: list[int], explain: bool,
              bundle: int | None = None, pinned: bool = False,
              chosen: tuple[str, dt.date | None] = ("as_of", None),
              cite_text: bool = False) -> Decision:
    results: dict[str, Any] = {}
    findings: dict[str, list[Finding]] = {"deny": [], "warn": [], "info": [], "oblige": []}
    for i in fired:                      # only fired rules cost anything, in file order
        compiled = plan.rules[i]
        rule = compiled.rule
        local = values
        due = None
        if rule.effect == "result":
            computed = {k: compute(e, values, rule.set_sources[k], k, compiled.set_fns.get(k))
                        for k, e in rule.sets.items()}
            for k, v in computed.items():
                results.setdefault(k, v)     # the first rule in the file wins
            local = {**values, **computed}
        elif rule.effect == "oblige":
            due = compute(rule.due, values, rule.due_source or "due", "due", compiled.due_fn)
            local = {**values, "due": due}
        # a result rule's message explains the values it set: it reads as a notice
        kind = "info" if rule.effect == "result" else rule.effect
        findings[kind].append(_finding(rule, local, lang, due, cite_text))
    trace = tuple(_trace(plan, values, set(fired))) if explain else None
    return Decision(
        policy=version.policy, version=version.version, digest=version.digest,
        action=plan.action.name, as_of=day, lang=lang,
        outcome="deny" if findings["deny"] else "allow",
        violations=tuple(findings["deny"]), warnings=tuple(findings["warn"]),
        notices=tuple(findings["info"]), obligations=tuple(findings["oblige"]),
        results=results, fired=tuple([plan.rules[i].rule.id for i in fired]),
        trace=trace, bundle=bundle, chosen_by=chosen[0], chosen_on=chosen[1], pinned=pinned,
        personal_facts=plan.action.personal,
    )


def _finding(rule: Rule, values: dict[str, Any], lang: str, due: Any,
             cite_text: bool = False) -> Finding:
    # the citation with its sections' numbers and headings was built once at load
    cite = rule.cites.get(f"{lang}+text" if cite_text else lang) or rule.cite
    return Finding(rule.id, rule.effect, render(rule.message[lang], values, lang),
                   cite.copy(), due.isoformat() if isinstance(due, dt.date) else None)


_MASK = "***"


def _trace(plan: ActionPlan, values: dict[str, Any], fired: set[int]):
    personal = plan.action.personal
    for i, compiled in enumerate(plan.rules):
        yield TraceEntry(
            rule=compiled.rule.id, effect=compiled.rule.effect, fired=i in fired,
            when=compiled.rule.when_source,
            reads={n: (_MASK if n in personal and values.get(n) is not None else values.get(n))
                   for n in compiled.reads},
        )
