"""Regression fixtures: YAML cases per policy version, their runner and rule coverage.

A fixture file lives in ``fixtures/<policy>/<version>/`` and holds ``cases``; each case names
an action, an ``as_of`` not before that version takes effect, facts and what to expect. Cases
run pinned to their folder's version. The same runner serves
``rehab-rules test`` and the pytest suite, so a failing case reads the same in both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, fields, validate

from engine.decide import decide
from engine.errors import EngineError, LookupFailed, Problem
from engine.folder import PolicyFiles
from engine.loader import LineDict, line_at, plain, read_yaml, read_yaml_bytes
from engine.model import LANGUAGES, Decision, Policy, json_form
from engine.schema import YamlDate, shape_problems
from engine.store import PolicyStore, collect_files

__all__ = ["Case", "CaseResult", "append_cases", "coverage_gaps", "coverage_problems",
           "expectation", "load_cases", "load_suite", "run_case", "set_suite", "with_inherited",
           "write_overrides"]


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
    lang = fields.String(validate=validate.OneOf(LANGUAGES))
    facts = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))
    expect = fields.Nested(_Expect, required=True)
    replaces = fields.String()      # the inherited case (same action) this one stands for


class _File(Schema):
    cases = fields.List(fields.Nested(_Case))
    drop = fields.List(fields.String())      # inherited cases this version does not run


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
    inherited_from: str | None = None    # the version whose folder holds the case
    replaces: str | None = None          # the inherited case's name, when renamed

    @property
    def where(self) -> str:
        if self.inherited_from:
            return f"{self.path}:{self.line} (inherited by {self.version})"
        return f"{self.path}:{self.line}"


@dataclass
class CaseResult:
    case: Case
    failures: list[str] = field(default_factory=list)
    fired: tuple[str, ...] | None = None     # None when the request was refused
    decision: Decision | None = None         # what the engine decided, for ``accept``
    error: str | None = None                 # the code it refused with, if it did
    details: dict[str, Any] | None = None    # and the refusal's details (the facts it names)

    @property
    def ok(self) -> bool:
        return not self.failures


def load_cases(paths: list[Path | str]) -> tuple[list[Case], list[Problem]]:
    """Every case written under ``paths``; malformed files come back as problems, all at once."""
    cases, _, problems = _read(paths)
    return cases, problems


def load_suite(paths: list[Path | str],
               policies: dict[str, Policy]) -> tuple[list[Case], list[Problem]]:
    """The cases written under ``paths`` and, for every version that extends another, the
    cases it inherits (:func:`with_inherited`)."""
    cases, drops, problems = _read(paths)
    return with_inherited(cases, drops, policies, problems), problems


def set_suite(files: PolicyFiles,
              policies: dict[str, Policy]) -> tuple[list[Case], list[Problem]]:
    """:func:`load_suite` of the fixture files a set carries (:attr:`PolicyFiles.cases`):
    what :meth:`engine.store.PolicyStore.cases` serves, read from the set, not from disk."""
    cases, drops, problems = _read_files(files)
    return with_inherited(cases, drops, policies, problems), problems


_Drops = dict[tuple[str, str], dict[str, tuple[str, int]]]


def _read(paths: list[Path | str]) -> tuple[list[Case], _Drops, list[Problem]]:
    """The fixture files under ``paths``, read from disk."""
    def documents() -> Iterable[tuple[str, tuple[str, str], Any, list[Problem]]]:
        for path in collect_files(paths):
            doc, found, _ = read_yaml(path)
            yield str(path), (path.parent.parent.name, path.parent.name), doc, found
    return _parse(documents())


def _read_files(files: PolicyFiles) -> tuple[list[Case], _Drops, list[Problem]]:
    """The fixture files a set carries (:attr:`PolicyFiles.cases`), read from their bytes."""
    def documents() -> Iterable[tuple[str, tuple[str, str], Any, list[Problem]]]:
        for rel in sorted(files.cases):
            policy, version, _ = rel.split("/", 2)
            shown = files.display_case(rel)
            doc, found = read_yaml_bytes(files.cases[rel], shown)
            yield shown, (policy, version), doc, found
    return _parse(documents())


def _parse(documents: Iterable[tuple[str, tuple[str, str], Any, list[Problem]]],
           ) -> tuple[list[Case], _Drops, list[Problem]]:
    """Cases, drops and problems of fixture documents: (shown path, (policy, version),
    parsed document or None, problems of reading it)."""
    cases: list[Case] = []
    drops: _Drops = {}
    problems: list[Problem] = []
    for path, key, doc, found in documents:
        problems += found
        if doc is None:
            continue
        shape = shape_problems(doc, _File(), path)
        problems += shape
        if shape or not isinstance(doc, LineDict):
            continue
        if "cases" not in doc and "drop" not in doc:
            problems.append(Problem(path, doc.line or 1, "a fixture file holds cases: "
                                    "(and may say drop: [names of inherited cases])",
                                    "missing_key"))
            continue
        for i, name in enumerate(doc.get("drop") or []):
            drops.setdefault(key, {})[name] = (path, line_at(doc, ["drop", i]))
        first: dict[tuple[str, str], int] = {}
        for i, raw in enumerate(doc.get("cases") or []):
            line = line_at(doc, ["cases", i])
            if (raw["action"], raw["name"]) in first:
                problems.append(Problem(path, line, f"case {raw['name']!r} of action "
                                        f"{raw['action']} is written twice in this file (first "
                                        f"at line {first[(raw['action'], raw['name'])]}); a "
                                        "case's name tells it apart — rename one",
                                        "duplicate_case"))
                continue
            first[(raw["action"], raw["name"])] = line
            cases.append(Case(
                path=path, line=line_at(doc, ["cases", i]),
                policy=key[0], version=key[1],
                name=raw["name"], action=raw["action"],
                as_of=YamlDate().deserialize(raw["as_of"]),
                facts={k: json_form(v) for k, v in plain(raw.get("facts") or {}).items()},
                expect=plain(raw["expect"]), lang=raw.get("lang", "en"),
                replaces=raw.get("replaces"),
            ))
    return cases, drops, problems


def with_inherited(cases: list[Case], drops: _Drops, policies: dict[str, Policy],
                   problems: list[Problem]) -> list[Case]:
    """The written cases, then the cases each overlay version inherits from its base.

    A version that ``extends`` another runs every case of that version (its own and what it
    inherited in turn), pinned to itself, except the cases its own folder overrides (a case
    of the same action and name, or one that says ``replaces: <name>``) or drops
    (``drop: [name, …]`` in any of its fixture files).
    A planner writes cases only for what changed. Dropping a case the base does not have is
    a problem at the ``drop`` line.
    """
    own: dict[tuple[str, str], list[Case]] = {}
    for case in cases:
        own.setdefault((case.policy, case.version), []).append(case)
    memo: dict[tuple[str, str], list[Case]] = {}

    def effective(policy: Policy, name: str) -> list[Case]:
        key = (policy.name, name)
        if key not in memo:
            memo[key] = []                            # a cycle was refused at load anyway
            mine = own.get(key, [])
            version = next((v for v in policy.versions if v.version == name), None)
            inherited: list[Case] = []
            if version is not None and version.extends:
                written = {(c.action, c.replaces or c.name) for c in mine}
                dropped = drops.get(key, {})
                base = effective(policy, version.extends)
                for case in base:
                    if (case.action, case.name) in written or case.name in dropped:
                        continue
                    inherited.append(replace(case, version=name,
                                             inherited_from=case.inherited_from
                                             or case.version))
                for case in mine:
                    if case.replaces and (case.action, case.replaces) not in {
                            (c.action, c.name) for c in base}:
                        problems.append(Problem(case.path, case.line, f"replaces: version "
                                                f"{version.extends} has no {case.action} case "
                                                f"{case.replaces!r}", "unknown_case"))
                for gone, (path, line) in dropped.items():
                    if gone not in {c.name for c in base}:
                        problems.append(Problem(path, line, f"drop: version "
                                                f"{version.extends} has no case {gone!r}",
                                                "unknown_case"))
            memo[key] = [*mine, *inherited]
        return memo[key]

    out = list(cases)
    for policy in policies.values():
        for version in policy.versions:
            out += [c for c in effective(policy, version.version) if c.inherited_from]
    return out


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
    """Decide one case, pinned to its version, and compare it with what it expects.

    An inherited case runs pinned to the version that inherits it, whatever its as_of.

    Pinning means a newer version (whose effective_from an old case's as_of may pass) never
    breaks an older version's cases, and a case inherited or accepted from an older version
    keeps its dates: ``as_of`` is only the day of the event being judged, as in a pinned
    what-if through the API.
    """
    result = CaseResult(case)
    expect = case.expect
    try:
        store.get_version(case.policy, case.version)
    except LookupFailed as exc:     # a folder without its policy file: never what a case expects
        result.failures.append(f"no such version: {exc.message}")
        return result
    try:
        # pinned to the folder's version: a newer version never changes an older one's cases
        decision = decide(store, policy=case.policy, action=case.action, as_of=case.as_of,
                          facts=case.facts, lang=case.lang, evaluator=evaluator,
                          version=case.version)
    except EngineError as exc:
        result.error, result.details = exc.code, exc.details
        if expect.get("error") != exc.code:
            result.failures.append(f"refused with {exc.code}: {exc.message}")
        return result
    result.decision = decision
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
            result.failures.append(f"results.{key}: expected {json_form(want)!r}, "
                                   f"got {json_form(got)!r}")
    dues = {o.rule: o.due for o in decision.obligations}
    for rule, want in (expect.get("obligations") or {}).items():
        if not _same(want, dues.get(rule)):
            result.failures.append(f"obligations.{rule}: expected due {json_form(want)}, got "
                                   f"{dues.get(rule)}")
    return result


def coverage_gaps(store: PolicyStore, results: list[CaseResult],
                  policies: set[str] | None = None) -> list[str]:
    """Rules of every version that lack a case where they fire, or one where they do not."""
    return [str(p) for p in coverage_problems(store, results, policies)]


def coverage_problems(store: PolicyStore, results: list[CaseResult],
                      policies: set[str] | None = None) -> list[Problem]:
    """:func:`coverage_gaps` as problems at each rule's line (``publish`` refuses them)."""
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
                path = rule.path or version.path
                what = f"rule {rule.id} (version {version.version})"
                if not fires:
                    gaps.append(Problem(path, rule.line, f"{what} never fires in "
                                        f"fixtures/{name}/{version.version}", "uncovered"))
                if not silent:
                    gaps.append(Problem(path, rule.line, f"{what} has no case in "
                                        f"fixtures/{name}/{version.version} where it does not "
                                        "fire", "uncovered"))
    return gaps


# -- accepting what a new version decides ---------------------------------------------------

_ACCEPT_NOTE = ("# Written by 'rehab-rules fixtures accept': cases {version} inherits from "
                "{base} that\n# now decide differently. Review each one before you commit.\n")


def expectation(result: CaseResult) -> dict[str, Any]:
    """What a case should now expect: what the engine decided, in the keys the case used."""
    if result.decision is None:
        return {"error": result.error}
    d, wanted = result.decision, result.case.expect
    out: dict[str, Any] = {"outcome": d.outcome, "fired": list(d.fired)}
    if wanted.get("results"):
        out["results"] = {k: json_form(d.results[k]) for k in wanted["results"] if k in d.results}
    dues = {o.rule: o.due for o in d.obligations if o.due}
    if wanted.get("obligations") or dues:
        out["obligations"] = dues
    return out


def write_overrides(results: list[CaseResult], root: Path) -> dict[Path, int]:
    """Append each result's case, with its new expectation, to
    ``root/<policy>/<version>/<action>.yaml`` (created if missing); return files and counts."""
    by_file: dict[Path, list[dict[str, Any]]] = {}
    for r in results:
        case = r.case
        entry: dict[str, Any] = {"name": case.name, "action": case.action, "as_of": case.as_of}
        if case.lang != "en":
            entry["lang"] = case.lang
        entry["facts"] = case.facts
        entry["expect"] = expectation(r)
        path = root / case.policy / case.version / f"{case.action}.yaml"
        by_file.setdefault(path, []).append(entry)
    for path, entries in by_file.items():
        base = next(r.case.inherited_from for r in results if r.case.version == path.parent.name)
        append_cases(path, entries, _ACCEPT_NOTE.format(version=path.parent.name, base=base))
    return {path: len(entries) for path, entries in by_file.items()}


def append_cases(path: Path, entries: list[dict[str, Any]], note: str) -> Path:
    """Append fixture cases (mappings as written in YAML) to ``path``, created if missing,
    under a ``note`` comment; return the file written.

    Appended text keeps the planner's comments and layout; a file whose ``cases`` is not its
    last key gets a sibling ``<stem>-accepted.yaml`` instead, where appending stays valid.
    """
    dumped = yaml.safe_dump(entries, allow_unicode=True, sort_keys=False, width=100,
                            default_flow_style=None)
    block = "".join(f"  {line}\n" if line else "\n" for line in dumped.splitlines())
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(f"{note}cases:\n{block}", encoding="utf-8")
        return path
    text = path.read_text(encoding="utf-8")
    doc = yaml.safe_load(text) or {}
    if "cases" in doc and list(doc)[-1] != "cases":   # appending would land elsewhere
        path = path.with_name(f"{path.stem}-accepted.yaml")
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        doc = yaml.safe_load(text) or {} if text else {}
    sep = "" if not text or text.endswith("\n") else "\n"
    head = "" if "cases" in doc else "cases:\n"
    note = "\n".join(f"  {line}" for line in note.splitlines()) + "\n"
    path.write_text(f"{text}{sep}{head}{note}{block}", encoding="utf-8")
    return path
