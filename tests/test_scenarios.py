"""A planner's whole change, as policies/README.md tells it: the course-registration scenario.

tests/scenarios/course-registration-2027/ holds what a planner writes for a new revision with
group size 5–10 (was 6–12), confirmation at 5 (was 6) and moving or deleting 45 days before
the start (was 30): a short overlay and only the fixture cases that change. Here it is laid
over a copy of policies/ and fixtures/ and must pass ``rehab-rules check``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "scenarios" / "course-registration-2027"
OVERLAY = SCENARIO / "policies" / "course-registration" / "2027-01.yaml"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures")
    shutil.copy(OVERLAY, tmp_path / "policies" / "course-registration")
    return tmp_path


def _check(work: Path, *args: str):
    return CliRunner().invoke(main, ["check", str(work / "policies"), *args])


def test_the_overlay_is_short():
    assert len(OVERLAY.read_text(encoding="utf-8").splitlines()) <= 40


def test_without_new_cases_check_lists_what_changed_and_accept_writes_it(work):
    result = _check(work)
    assert result.exit_code == 1
    assert "inherited: 125 passed, 24 now different" in result.output
    assert "rehab-rules fixtures accept course-registration 2027-01" in result.output
    assert "the rule table is out of date; run rehab-rules check --fix" in result.output
    accepted = CliRunner().invoke(main, [
        "fixtures", "accept", "course-registration", "2027-01",
        "--policies", str(work / "policies"), "--fixtures", str(work / "fixtures")])
    assert accepted.exit_code == 0, accepted.output
    assert sum(int(line.split()[1]) for line in accepted.output.splitlines()
               if line.startswith("wrote")) == 24
    result = _check(work, "--fix")
    assert "inherited: 125 passed, 0 now different" in result.output
    # what no old case can show is left to the planner: coverage says which rules
    assert "rule CR-1-group-size-below-min (version 2027-01) never fires" in result.output


def test_the_scenario_passes_check(work):
    shutil.copytree(SCENARIO / "fixtures" / "course-registration" / "2027-01",
                    work / "fixtures" / "course-registration" / "2027-01")
    assert _check(work, "--fix").exit_code == 0
    result = _check(work)
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("OK: ready to publish")
    written = list((SCENARIO / "fixtures").rglob("*.yaml"))
    assert sum(f.read_text().count("  - name:") for f in written) == 27   # 24 changed + 3 new


def test_a_broken_overlay_fails_check_with_file_and_line(work):
    target = work / "policies" / "course-registration" / "2027-01.yaml"
    target.write_text(OVERLAY.read_text().replace("max_size: 10", "max_sise: 10"))
    result = _check(work)
    assert result.exit_code == 1
    assert f"{target}:21: table course_types of version 2024-01 has no column 'max_sise'; " \
           "did you mean 'max_size'?" in result.output
