"""Every fixture case under fixtures/, inherited ones too, collected by pytest, on both
evaluators.

A failure names the fixture file and line, the case and what differed. Each case also runs on
the pure-Python evaluator, and the two must fire the same rules.
"""

from __future__ import annotations

import pytest

from engine.fixtures import load_suite, run_case
from engine.pyeval import PythonEvaluator
from engine.store import load_folder
from tests.conftest import FIXTURES, POLICIES

# written cases and those each overlay version inherits (run pinned to the inheriting version)
CASES, PROBLEMS = load_suite([FIXTURES], load_folder(POLICIES)[1]) if FIXTURES.is_dir() \
    else ([], [])


def test_fixture_files_are_well_formed():
    assert [str(p) for p in PROBLEMS] == []


@pytest.mark.parametrize("case", CASES, ids=[f"{c.policy}/{c.version}:{c.name}"
                                          + (f" (from {c.inherited_from})"
                                             if c.inherited_from else "") for c in CASES])
def test_case(real_store, case):
    result = run_case(real_store, case)
    assert result.ok, f"{case.where}: {case.name}\n  " + "\n  ".join(result.failures)
    second = run_case(real_store, case, evaluator=PythonEvaluator())
    assert second.fired == result.fired, f"{case.where}: durable and Python evaluators differ"
