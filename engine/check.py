"""What ``rehab-rules check`` asks of a set, as problems: the test ``publish`` puts a set to.

A set that loads can still be wrong: an inherited message still states an old figure, a case
it carries now decides otherwise, a rule has no case where it fires. ``check`` lists these
for a planner; :func:`check_problems` returns the same findings as :class:`Problem` s at the
file and line to fix, so that publishing (the CLI, ``POST /v1/admin/bundles``, reload,
bootstrap) refuses a set that ``check`` would call not ready, naming each failing case.

Coverage (a case where each rule fires and one where it stays silent) is asked of the
policies the set carries cases for, as ``check`` asks it of the policies its fixtures
folder has cases for. What ``check`` shows beside them for a planner to look at before
publishing (:mod:`engine.review`: an old figure in an inherited message, a fact no rule
reads …) is advice on the files, not a wrong answer, and publishing does not wait on it
unless asked (``review=True``).

>>> store = PolicyStore.load("policies")              # doctest: +SKIP
>>> check_problems(store)                              # doctest: +SKIP
[]
"""

from __future__ import annotations

from engine.errors import Problem
from engine.fixtures import CaseResult, coverage_problems, run_case
from engine.review import blame_refusals, is_refusal_change, review_set
from engine.store import PolicyStore

__all__ = ["case_failures", "check_problems"]


def check_problems(store: PolicyStore, review: bool = False) -> list[Problem]:
    """The problems ``check`` would list of the cases the set ``store`` serves carries
    (:meth:`PolicyStore.cases`): their files' problems, every failing case, the rules of a
    policy with cases that no case covers both ways; with ``review``, also what ``check``
    asks a planner to look at (the rule table of a folder's README aside, a note for people,
    not part of a set)."""
    results = [run_case(store, case) for case in store.cases()]
    with_cases = {r.case.policy for r in results}
    advice = review_set(store.policies, store.current.files).problems if review else []
    return [*advice, *store.case_problems(), *case_failures(store, results),
            *coverage_problems(store, results, with_cases)]


def case_failures(store: PolicyStore, results: list[CaseResult]) -> list[Problem]:
    """Each failing case as a problem at its line, naming it and what differs; a case now
    refused where it decided is traced to the overlay line that explains it, as ``check``
    does."""
    failed = [r for r in results if not r.ok]
    refused = [r for r in failed if is_refusal_change(r)]
    out = blame_refusals(refused, store)
    for r in failed:
        if r in refused:
            continue
        label = "now decides differently" if r.case.inherited_from else "fails"
        inherited = f" (inherited by {r.case.version})" if r.case.inherited_from else ""
        out.append(Problem(r.case.path, r.case.line,
                           f"case {r.case.name!r} ({r.case.action}){inherited} {label}: "
                           + "; ".join(r.failures), "case_fails"))
    return out
