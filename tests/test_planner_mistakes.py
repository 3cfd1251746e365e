"""Planner mistakes: each one a small overlay on one base, and the one problem it must give.

``tests/planner_mistakes/_base/`` is a small audit policy with its fixtures (``check`` says OK
on it). Every other folder there is one mistake a planner makes when writing the next version
as an overlay: its files are laid over a copy of the base and ``rehab-rules check`` runs (or
the command its ``command`` file names). The output must hold exactly one problem — a line
``file:line: …`` — at the line and with the words the case's ``# expect: LINE: words``
comment gives, in the file that holds the comment. A check that says OK must mean it: these
are the slips that once passed every check.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

CORPUS = Path(__file__).resolve().parent / "planner_mistakes"
BASE = CORPUS / "_base"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_"))
# a problem line: "path:line: message", or a label before it ("CHANGED path:line (…): name")
PROBLEM = re.compile(r"^(?:[A-Z]+ )?(/\S+?):(\d+)(?: \([^)]*\))?: (.*)$")


def _lay(case: str, work: Path) -> Path:
    shutil.copytree(BASE, work)
    shutil.copytree(CORPUS / case, work, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("command"))
    return work


def _expected(case: str, work: Path) -> list[tuple[str, int, str]]:
    out = []
    for f in sorted((CORPUS / case).rglob("*.yaml")):
        for line in f.read_text(encoding="utf-8").splitlines():
            m = re.match(r"# expect: (\d+): (.*)$", line)
            if m:
                out.append((str(work / f.relative_to(CORPUS / case)), int(m.group(1)),
                            m.group(2)))
    return out


def _run(case: str, work: Path) -> tuple[int, str]:
    command = CORPUS / case / "command"
    args = (shlex.split(command.read_text(encoding="utf-8").format(
        policies=work / "policies", fixtures=work / "fixtures"))
        if command.exists() else ["check", str(work / "policies")])
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.output
    return result.exit_code, result.output


def test_the_base_is_ready_to_publish(tmp_path):
    work = _lay_base(tmp_path)
    code, output = _run_check(work)
    assert code == 0, output
    assert output.rstrip().endswith("OK: ready to publish")


def _lay_base(tmp_path: Path) -> Path:
    shutil.copytree(BASE, tmp_path / "w")
    return tmp_path / "w"


def _run_check(work: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", str(work / "policies")])
    return result.exit_code, result.output


def test_there_are_many_mistakes():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES)
def test_each_mistake_gives_exactly_its_one_problem(case, tmp_path):
    work = _lay(case, tmp_path / "w")
    [(path, line, words)] = _expected(case, work)
    code, output = _run(case, work)
    assert code == 1, output
    problems = [m.groups() for m in map(PROBLEM.match, output.splitlines()) if m]
    assert len(problems) == 1, output
    got_path, got_line, got_words = problems[0]
    assert (got_path, int(got_line)) == (path, line), output
    assert words in got_words, output
