"""What people call a version's names on the explorer's pages: a fact, derived value or
parameter by its label (``labels:`` of the policy file) with the identifier beside it, its
help, and the values an enumerated fact takes by their names — all in the page's language.

A name the version gives no label shows as its identifier alone, so an unlabelled policy (a
draft, a test's) reads as it always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.model import ActionSpec, FactSpec, PolicyVersion, json_form

__all__ = ["Named", "NamedFact", "named", "named_derived", "named_facts"]


@dataclass(frozen=True)
class Named:
    """A name as a page shows it: ``label`` is None when the version gives it none."""

    name: str
    label: str | None
    help: str | None


@dataclass(frozen=True)
class NamedFact(Named):
    """A fact with its declaration and its values as (value shown, name or None)."""

    spec: FactSpec
    options: tuple[tuple[str, str | None], ...] = ()


def named(version: PolicyVersion, name: str, lang: str) -> Named:
    """``name`` with its label and help in ``lang`` (None for what the version lacks)."""
    label = version.label_of(name, lang)
    return Named(name, None if label == name and name not in version.labels else label,
                 version.help_of(name, lang))


def named_facts(version: PolicyVersion, action: ActionSpec, lang: str) -> list[NamedFact]:
    """The action's facts in the file's order, each with its label, help and named values."""
    out = []
    for name, spec in action.facts.items():
        base = named(version, name, lang)
        options = tuple(_option(version, name, value, lang) for value in spec.one_of or ())
        out.append(NamedFact(base.name, base.label, base.help, spec, options))
    return out


def named_derived(version: PolicyVersion, action: ActionSpec,
                  lang: str) -> list[tuple[Named, Any]]:
    """The action's derived values a person reads (not the compiler's hoisted ones), each
    with its label and help, beside its :class:`~engine.model.Derived`."""
    return [(named(version, d.name, lang), d) for d in action.derived if not d.hidden]


def _option(version: PolicyVersion, fact: str, value: Any, lang: str) -> tuple[str, str | None]:
    shown = str(json_form(value))
    name = version.option_name(fact, value, lang)
    return shown, (None if name == shown else name)
