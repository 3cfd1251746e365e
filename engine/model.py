"""The engine's vocabulary: loaded policies, their rules, and the decisions they produce.

Everything here is an immutable value object: frozen dataclasses, and named tuples for the two
made on every decision (:class:`Decision`, :class:`Finding`), which are faster to make.
Loading builds them once; deciding only reads them, so one loaded set can serve any number of
threads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from engine.text import ServiceText

__all__ = [
    "EFFECTS",
    "FINDING_EFFECT",
    "FINDING_KINDS",
    "LANGUAGES",
    "ActionPlan",
    "ActionSpec",
    "CompiledRule",
    "Decision",
    "Derived",
    "Evaluator",
    "FactSpec",
    "Finding",
    "Label",
    "Policy",
    "PolicyVersion",
    "Rule",
    "TraceEntry",
    "json_form",
    "json_value",
]

LANGUAGES = ("fi", "sv", "en")
# a decision's findings by kind, in the order they are answered and logged; the effect of
# the rules whose messages each holds (a result rule's message reads as a notice)
FINDING_KINDS = ("violations", "warnings", "notices", "obligations")
FINDING_EFFECT = {"violations": "deny", "warnings": "warn", "notices": "info",
                  "obligations": "oblige"}
EFFECTS = ("deny", "warn", "info", "oblige", "result")


@dataclass(frozen=True)
class FactSpec:
    """One fact an action takes: its type and limits."""

    name: str
    type: str
    items: str | None = None
    required: bool = True
    default: Any = None
    one_of: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    personal: bool = False
    line: int = 0
    one_of_from: str | None = None     # the table or list parameter one_of names, if any
    kept_for: str | None = None        # why a fact no rule reads is declared (the log …)

    def describe(self) -> dict[str, Any]:
        """The public description providers read to learn the fact names."""
        out: dict[str, Any] = {"type": self.type, "required": self.required}
        for key in ("items", "default", "min", "max"):
            value = getattr(self, key)
            if value is not None:
                out[key] = json_form(value)
        if self.one_of is not None:
            out["one_of"] = list(self.one_of)
        if self.personal:
            out["personal"] = True
        return out


@dataclass(frozen=True)
class Label:
    """What people call a fact, derived value or parameter (``labels:`` of a version): its
    name and an optional explanation in fi, sv and en, and the names of the values an
    enumerated fact takes (value → {fi, sv, en}). Pages show these beside the identifier."""

    label: dict[str, str]
    help: dict[str, str] | None = None
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": dict(self.label)}
        if self.help:
            out["help"] = dict(self.help)
        if self.values:
            out["values"] = {k: dict(v) for k, v in self.values.items()}
        return out


@dataclass(frozen=True)
class Derived:
    """A value computed before the rules run; ``expr`` is a parsed expression."""

    name: str
    source: str
    expr: Any
    type: str
    reads: tuple[str, ...]
    line: int = 0
    hidden: bool = False   # hoisted out of a condition by the compiler


@dataclass(frozen=True)
class ActionSpec:
    name: str
    title: dict[str, str]
    facts: dict[str, FactSpec]
    derived: tuple[Derived, ...]
    line: int = 0
    version_by: str = "as_of"   # the date fact that chooses the version in force
    # every name the action's expressions may read → its type, and what it is
    # ("fact", "derived" or "parameter"); built once by the schema stage
    types: dict[str, str] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)

    @cached_property
    def personal(self) -> frozenset[str]:
        """Facts that hold personal identity codes: never log or store them in clear.

        Worked out once (``cached_property`` writes past the frozen dataclass), since every
        decision reads it."""
        return frozenset(n for n, f in self.facts.items() if f.personal)

    def describe(self) -> dict[str, Any]:
        return {
            "title": dict(self.title),
            "facts": {n: f.describe() for n, f in self.facts.items()},
            "derived": {d.name: d.source for d in self.derived if not d.hidden},
            "version_by": self.version_by,
        }


@dataclass(frozen=True)
class Rule:
    id: str
    actions: tuple[str, ...]
    effect: str
    when_source: str | None
    # as written: seed, section, quote, url, note are text; interpretation is {fi, sv, en}
    cite: dict[str, Any]
    message: dict[str, str]
    due_source: str | None = None
    set_sources: dict[str, str] = field(default_factory=dict)
    line: int = 0
    path: str = ""              # the file the rule is written in (an overlay's base, maybe)
    # the numbers of the sections of the version's text that cite.section names (empty
    # without a text), and the citation as each decision language shows it, with those
    # sections' headings (engine.text.citation_views): built once at load
    sections: tuple[str, ...] = ()
    cites: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    # filled in by the compiler
    when: Any = None            # per action: compiled condition (engine-neutral JSON)
    due: Any = None             # parsed expression
    sets: dict[str, Any] = field(default_factory=dict)
    reads: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "actions": list(self.actions),
            "effect": self.effect,
            "when": self.when_source,
            "cite": json_form(self.cite),
            "message": dict(self.message),
        }
        if self.due_source:
            out["due"] = self.due_source
        if self.set_sources:
            out["set"] = dict(self.set_sources)
        return out


@dataclass(frozen=True)
class PolicyVersion:
    policy: str
    version: str
    effective_from: dt.date
    title: dict[str, str]
    source: dict[str, str]
    changes: tuple[dict[str, str], ...]
    parameters: dict[str, Any]
    actions: dict[str, ActionSpec]
    rules: tuple[Rule, ...]
    digest: str
    path: str
    effective_line: int = 1
    extends: str | None = None          # the version this one is an overlay of
    # the service description's text (its own, or its base's when an overlay brings none)
    text: ServiceText | None = field(default=None, compare=False, repr=False)
    # rule id → why it stands as it is although a section it cites changed (overlays only)
    reviewed: dict[str, str] = field(default_factory=dict)
    # name of a fact, derived value or parameter → what people call it (``labels:``)
    labels: dict[str, Label] = field(default_factory=dict)

    def label_of(self, name: str, lang: str) -> str:
        """What people call ``name`` in ``lang`` (Finnish when ``lang`` is none of ours);
        the identifier itself when the version gives it no label."""
        found = self.labels.get(name)
        return _in(found.label, lang) if found else name

    def help_of(self, name: str, lang: str) -> str | None:
        """The explanation of ``name`` in ``lang``, or None when the version gives none."""
        found = self.labels.get(name)
        return _in(found.help, lang) if found and found.help else None

    def option_name(self, fact: str, value: Any, lang: str) -> str:
        """The name in ``lang`` of ``value``, one of the values the fact ``fact`` may take:
        from ``labels:`` (``values``), else from the ``fi``/``sv``/``en`` column of the
        table its ``one_of`` names (a value set written once), else the value as it is."""
        texts = self._option_texts(fact, value)
        return _in(texts, lang) if texts else str(json_form(value))

    def _option_texts(self, fact: str, value: Any) -> Mapping[str, str] | None:
        key = str(json_form(value))
        found = self.labels.get(fact)
        if found and key in found.values:
            return found.values[key]
        for action in self.actions.values():
            spec = action.facts.get(fact)
            table = self.parameters.get(spec.one_of_from) if spec and spec.one_of_from \
                else None
            row = table.get(key) if isinstance(table, Mapping) else None
            if isinstance(row, Mapping) and all(isinstance(row.get(k), str) for k in LANGUAGES):
                return row
        return None

    def unlabelled(self) -> list[str]:
        """Names without a label: facts, derived values and parameters, and ``fact=value``
        for a value of an enumerated fact that has no name (what a planner still has to
        label)."""
        out: list[str] = []
        for action in self.actions.values():
            for name, spec in action.facts.items():
                if name not in self.labels and name not in out:
                    out.append(name)
                for value in spec.one_of or ():
                    shown = f"{name}={json_form(value)}"
                    if self._option_texts(name, value) is None and shown not in out:
                        out.append(shown)
            out += [d.name for d in action.derived
                    if not d.hidden and d.name not in self.labels and d.name not in out]
        out += [p for p in self.parameters if p not in self.labels and p not in out]
        return out

    def rules_for(self, action: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if action in r.actions)

    def summary(self) -> dict[str, Any]:
        out = {
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "digest": self.digest,
        }
        if self.extends:
            out["extends"] = self.extends
        return out

    def describe(self) -> dict[str, Any]:
        """Everything a provider needs to call this version: parameters, actions, rules."""
        return {
            "policy": self.policy,
            **self.summary(),
            "title": dict(self.title),
            "source": dict(self.source),
            "changes": [dict(c) for c in self.changes],
            "parameters": json_form(self.parameters),
            "actions": {n: a.describe() for n, a in self.actions.items()},
            "rules": [r.describe() for r in self.rules],
            "labels": {n: label.describe() for n, label in self.labels.items()},
        }


def _in(texts: Mapping[str, str], lang: str) -> str:
    """The text in ``lang``, else the Finnish one."""
    return texts.get(lang) or texts["fi"]


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    condition: dict[str, Any]
    reads: tuple[str, ...]
    # the rule's set: and due: as closures (expressions.compile_expr), built once at load
    set_fns: dict[str, Any] = field(default_factory=dict)
    due_fn: Any = None
    match: Any = None     # the condition as a closure, for the pure-Python evaluator


@dataclass(frozen=True)
class ActionPlan:
    """Everything needed to evaluate one action of one version."""

    policy: str
    version: str
    digest: str
    action: ActionSpec
    derived: tuple[Derived, ...]          # the action's own, then hoisted ones
    fields: dict[str, str]                # message field → type
    rules: tuple[CompiledRule, ...]
    constants: dict[str, Any]             # parameters as expressions read them
    derive_fns: tuple[Any, ...] = ()      # ``derived`` as closures, in the same order
    check: Any = None                     # engine.facts.compile_checker(action), built once

    @property
    def name(self) -> str:
        return f"{self.policy}@{self.version}#{self.action.name}~{self.digest[7:19]}"

    @cached_property
    def message_fields(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The message's fields whose checked values are JSON as they are (text, numbers,
        yes/no), and the rest (dates, untyped values), which need a look."""
        plain = tuple(n for n, t in self.fields.items() if t in _PLAIN)
        return plain, tuple(n for n in self.fields if n not in plain)

    @cached_property
    def matchers(self) -> tuple[tuple[int, Any], ...]:
        """Each rule's index and condition closure, for the pure-Python evaluator."""
        return tuple(enumerate(r.match for r in self.rules))


_PLAIN = frozenset({"string", "hetu", "integer", "number", "boolean"})


def json_value(value: Any) -> Any:
    """How a value travels in a durable_rules message: dates as ISO text."""
    return value.isoformat() if isinstance(value, dt.date) else value


class Evaluator(Protocol):
    """What decides which compiled conditions a message satisfies.

    Two implement it: :class:`engine.backend.DurableEvaluator` (durable_rules) and
    :class:`engine.pyeval.PythonEvaluator` (the same conditions in Python, the second opinion).
    ``prepare`` is called once per plan when a set is loaded, ``release`` when it retires.
    Both also have ``fired_many(prepared, messages)``, :meth:`fired` of each message in one
    call, which :func:`engine.decide_many` uses when an evaluator has it (it is optional).
    """

    def prepare(self, plan: ActionPlan) -> Any: ...

    def fired(self, prepared: Any, message: dict[str, Any]) -> list[int]:
        """The indices of the rules ``message`` satisfies: ascending, each once."""

    def release(self, prepared: Any) -> None: ...


@dataclass(frozen=True)
class Policy:
    """All versions of one policy, sorted by ``effective_from``."""

    name: str
    versions: tuple[PolicyVersion, ...]

    @property
    def title(self) -> dict[str, str]:
        return self.versions[-1].title


class Finding(NamedTuple):
    """One fired rule as the caller sees it: message in the asked language and its citation.

    A named tuple, like :class:`Decision`: as immutable as a frozen dataclass, and made
    three times as fast, which counts once per fired rule of every decision.
    """

    rule: str
    effect: str
    message: str
    cite: dict[str, str]
    due: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"rule": self.rule, "message": self.message, "cite": dict(self.cite)}
        if self.due is not None:
            out["due"] = self.due
        return out


@dataclass(frozen=True)
class TraceEntry:
    """One rule considered: did it fire, and which values did it read."""

    rule: str
    effect: str
    fired: bool
    when: str | None
    reads: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "effect": self.effect,
            "fired": self.fired,
            "when": self.when,
            "reads": json_form(self.reads),
        }


class Decision(NamedTuple):
    """What one decision found; :meth:`to_dict` is its answer.

    A named tuple rather than a frozen dataclass: just as immutable, and cheaper to build (a
    frozen dataclass sets each of these fields through ``object.__setattr__``); one is built
    on every decision.
    """

    policy: str
    version: str
    digest: str
    action: str
    as_of: dt.date
    lang: str
    outcome: str
    violations: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    notices: tuple[Finding, ...]
    obligations: tuple[Finding, ...]
    results: dict[str, Any]
    fired: tuple[str, ...]
    trace: tuple[TraceEntry, ...] | None = None
    bundle: int | None = None                      # the published bundle that decided
    chosen_by: str = "as_of"       # what chose the version: "as_of", a date fact, "version"
    chosen_on: dt.date | None = None               # the date that chose it (not if pinned)
    pinned: bool = False                           # version named by the caller, not by as_of
    personal_facts: frozenset[str] = frozenset()   # for loggers; not part of the answer

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "version": self.version,
            "digest": self.digest,
            "action": self.action,
            "as_of": self.as_of.isoformat(),
            "lang": self.lang,
            "outcome": self.outcome,
            "violations": [f.to_dict() for f in self.violations],
            "warnings": [f.to_dict() for f in self.warnings],
            "notices": [f.to_dict() for f in self.notices],
            "obligations": [f.to_dict() for f in self.obligations],
            "results": json_form(self.results),
            "fired": list(self.fired),
            "trace": None if self.trace is None else [t.to_dict() for t in self.trace],
            "bundle": self.bundle,
            "version_chosen_by": {"by": self.chosen_by, "date": (
                self.chosen_on.isoformat() if self.chosen_on else None)},
            "pinned": self.pinned,
        }


def json_form(value: Any) -> Any:
    """The JSON form of a value read from YAML or computed: dates as ISO text, tuples as
    lists, mapping keys as text — the one helper for it.

    >>> json_form({1: (dt.date(2025, 4, 1), "a")})
    {'1': ['2025-04-01', 'a']}
    """
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_form(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_form(v) for v in value]
    return value
