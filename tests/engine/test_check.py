"""What publish asks of a set: the cases it carries pass and cover it (engine/check.py)."""

from __future__ import annotations

from engine import PolicyStore
from engine.check import check_problems
from engine.pyeval import PythonEvaluator
from tests.conftest import FIXTURES, POLICIES
from tests.engine.test_fixtures import CASES, _write


def test_the_real_policies_and_their_cases_are_ready_to_publish():
    store = PolicyStore.load(POLICIES, evaluator=PythonEvaluator(), fixtures=FIXTURES)
    try:
        assert len(store.cases()) > 500
        assert check_problems(store) == []
    finally:
        store.close()


def test_a_set_without_cases_asks_for_none(demo_root):
    store = PolicyStore.load(demo_root, evaluator=PythonEvaluator())
    try:
        assert store.cases() == [] and check_problems(store) == []
    finally:
        store.close()


def test_a_failing_case_is_named_at_its_line_with_what_differs(demo_root):
    path = _write(demo_root.parent / "fixtures",
                  CASES.replace("expect: {error: unknown_key}", "expect: {outcome: allow}"))
    store = PolicyStore.load(demo_root, evaluator=PythonEvaluator())
    try:
        problems = check_problems(store)
        failing = [p for p in problems if p.code == "case_fails"]
        assert [(p.path, p.line) for p in failing] == [(str(path), 11)]
        assert "case 'unknown kind' (day) fails: refused with unknown_key" in str(failing[0])
        # the rules the two cases leave uncovered are problems too, at the rules' lines
        assert {p.code for p in problems} == {"case_fails", "uncovered"}
    finally:
        store.close()


def test_a_broken_case_file_is_a_problem(demo_root):
    _write(demo_root.parent / "fixtures", "cases:\n  - name: [\n")
    store = PolicyStore.load(demo_root, evaluator=PythonEvaluator())
    try:
        assert [p.code for p in check_problems(store)] == ["yaml_syntax"]
    finally:
        store.close()
