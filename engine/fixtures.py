"""Regression fixtures: YAML cases per policy version, their runner and rule coverage.

A fixture file lives in ``fixtures/<policy>/<version>/`` and holds ``cases``; each case names
an action, an ``as_of`` not before that version takes effect, facts and what to expect. Cases
run pinned to their folder's version. The same runner serves
``rehab-rules test`` and the pytest suite, so a failing case reads the same in both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import Schema, fields, validate

from engine.decide import decide
from engine.errors import EngineError, LookupFailed, Problem
from engine.loader import LineDict, LineList, line_at, plain, read_yaml
from engine.schema import YamlDate, shape_problems
from engine.store import PolicyStore, collect_files

__all__ = ["Case", "CaseResult", "coverage_gaps", "load_cases", "run_case"]


class _Expect(Schema):
    outcome = fields.String(validate=validate.OneOf(["allow", "deny"]))
    fired = fields.List(fields.String())
    results = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))
    obligations = fields.Dict(keys=fields.String(), values=YamlDate())
    error = fields.String()


class _Case(Schema):
    name = fields.String(required=True)
    action = fields.String(required=True)
    as_of = YamlDate(required=True)
    lang = fields.String(validate=validate.OneOf(["fi", "sv", "en"]))
    facts = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))
    expect = fields.Nested(_Expect, required=True)


class _File(Schema):
    cases = fields.List(fields.Nested(_Case), required=True)


@dataclass(frozen=True)
class Case:
    path: str
    line: int
    policy: str
    version: str
    name: str
    action: str
    as_of: dt.date
    facts: dict[str, Any]
    expect: dict[str, Any]
    lang: str = "en"

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class CaseResult:
    case: Case
    failures: list[str] = field(default_factory=list)
    fired: tuple[str, ...] | None = None     # None when the request was refused

    @property
    def ok(self) -> bool:
        return not self.failures


def load_cases(paths: list[Path | str]) -> tuple[list[Case], list[Problem]]:
    """Every case under ``paths``; malformed files come back as problems, all at once."""
    cases: list[Case] = []
    problems: list[Problem] = []
    for path in collect_files(paths):
        doc, found, _ = read_yaml(path)
        problems += found
        if doc is None:
            continue
        shape = shape_problems(doc, _File(), str(path))
        problems += shape
        if shape or not isinstance(doc, LineDict) or not isinstance(doc.get("cases"), LineList):
            continue
        for i, raw in enumerate(doc["cases"]):
            cases.append(Case(
                path=str(path), line=line_at(doc, ["cases", i]),
                policy=path.parent.parent.name, version=path.parent.name,
                name=raw["name"], action=raw["action"],
                as_of=YamlDate().deserialize(raw["as_of"]),
                facts={k: _iso(v) for k, v in plain(raw.get("facts") or {}).items()},
                expect=plain(raw["expect"]), lang=raw.get("lang", "en"),
            ))
    return cases, problems


def _iso(value: Any) -> Any:
    """YAML reads 2025-01-01 as a date; a request carries text, so fixtures do too."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_iso(v) for v in value]
    return value


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dt.date):
        expected = expected.isoformat()
    if isinstance(actual, dt.date):
        actual = actual.isoformat()
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)) \
            and not isinstance(expected, bool) and not isinstance(actual, bool):
        return abs(expected - actual) < 1e-9
    return expected == actual


def run_case(store: PolicyStore, case: Case, evaluator: Any = None) -> CaseResult:
    """Decide one case, pinned to its folder's version, and compare it with what it expects.

    Pinning means a newer version (whose effective_from an old case's as_of may pass) never
    breaks an older version's cases. Only the lower bound of the old "as_of inside the
    version" check is kept: it depends on the case's own version alone, and a case dated
    before its rules took effect is almost always a case copied into the wrong folder.
    """
    result = CaseResult(case)
    expect = case.expect
    try:
        version = store.get_version(case.policy, case.version)
    except LookupFailed as exc:     # a folder without its policy file: never what a case expects
        result.failures.append(f"no such version: {exc.message}")
        return result
    if case.as_of < version.effective_from:
        result.failures.append(
            f"as_of {case.as_of} is before version {case.version} takes effect "
            f"({version.effective_from})")
        return result
    try:
        # pinned to the folder's version: a newer version never changes an older one's cases
        decision = decide(store, policy=case.policy, action=case.action, as_of=case.as_of,
                          facts=case.facts, lang=case.lang, evaluator=evaluator,
                          version=case.version)
    except EngineError as exc:
        if expect.get("error") != exc.code:
            result.failures.append(f"refused with {exc.code}: {exc.message}")
        return result
    result.fired = decision.fired
    if "error" in expect:
        result.failures.append(f"expected error {expect['error']}, but got a decision "
                               f"({decision.outcome}, fired {list(decision.fired)})")
    if "outcome" in expect and expect["outcome"] != decision.outcome:
        result.failures.append(f"outcome: expected {expect['outcome']}, got {decision.outcome}")
    if "fired" in expect and set(expect["fired"]) != set(decision.fired):
        missing = sorted(set(expect["fired"]) - set(decision.fired))
        extra = sorted(set(decision.fired) - set(expect["fired"]))
        result.failures.append(f"fired: expected but not fired {missing}; fired but not "
                               f"expected {extra}")
    for key, want in (expect.get("results") or {}).items():
        got = decision.results.get(key)
        if key not in decision.results or not _same(want, got):
            result.failures.append(f"results.{key}: expected {_iso(want)!r}, got {_iso(got)!r}")
    dues = {o.rule: o.due for o in decision.obligations}
    for rule, want in (expect.get("obligations") or {}).items():
        if not _same(want, dues.get(rule)):
            result.failures.append(f"obligations.{rule}: expected due {_iso(want)}, got "
                                   f"{dues.get(rule)}")
    return result


def coverage_gaps(store: PolicyStore, results: list[CaseResult],
                  policies: set[str] | None = None) -> list[str]:
    """Rules of every version that lack a case where they fire, or one where they do not."""
    gaps = []
    for name, policy in sorted(store.policies.items()):
        if policies is not None and name not in policies:
            continue
        for version in policy.versions:
            ran = [r for r in results if r.case.policy == name
                   and r.case.version == version.version and r.fired is not None]
            for rule in version.rules:
                relevant = [r for r in ran if r.case.action in rule.actions]
                fires = any(rule.id in r.fired for r in relevant)
                # a rule without `when` fires on every request of its action by design
                silent = rule.when_source is None or any(
                    rule.id not in r.fired for r in relevant)
                where = f"{version.path}:{rule.line}: rule {rule.id} (version {version.version})"
                if not fires:
                    gaps.append(f"{where} never fires in fixtures/{name}/{version.version}")
                if not silent:
                    gaps.append(f"{where} has no case in fixtures/{name}/{version.version} "
                                "where it does not fire")
    return gaps
