import re
from pathlib import Path

import pytest

from engine.schema import load_version
from engine.store import load_folder
from tests.conftest import DEMO, write_policy

CORPUS = Path(__file__).resolve().parent.parent / "invalid_policies"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def _expected(folder: Path) -> list[tuple[str, int, str]]:
    """``# expect: LINE: text`` in a file, or ``path:LINE: text`` lines in ``expect.txt``
    for problems that cannot be written inside a file (a folder, a missing file)."""
    out = []
    for f in sorted(folder.rglob("*.y*ml")):
        text = f.read_bytes().decode("utf-8", errors="replace")
        for line in text.splitlines():
            m = re.match(r"# expect: (\d+): (.*)$", line)
            if m:
                out.append((str(f), int(m.group(1)), m.group(2)))
    listed = folder / "expect.txt"
    if listed.exists():
        for line in listed.read_text(encoding="utf-8").splitlines():
            rel, number, text = line.split(":", 2)
            path = folder if rel == "." else folder / rel
            out.append((str(path), int(number), text.strip()))
    return out


@pytest.mark.parametrize("case", CASES)
def test_every_invalid_file_gives_exactly_its_messages(case):
    folder = CORPUS / case
    expected = _expected(folder)
    assert expected, f"{case} has no '# expect:' line"
    _, _, _, problems = load_folder(folder)
    got = [(p.path, p.line, p.message) for p in problems]
    assert len(got) == len(expected), got
    for path, line, text in expected:
        assert any(g[0] == path and g[1] == line and text in g[2] for g in got), (text, got)


def test_corpus_covers_many_messages():
    assert len(CASES) >= 50


def test_valid_demo_loads(tmp_path):
    version, problems = load_version(write_policy(tmp_path))
    assert problems == []
    assert version.version == "2024-01" and version.digest.startswith("sha256:")
    assert [r.id for r in version.rules][:2] == ["TT-1-short", "TT-2-unpaid"]
    assert version.actions["day"].facts["code"].personal


def test_digest_changes_with_content(tmp_path):
    a, _ = load_version(write_policy(tmp_path / "a"))
    b, _ = load_version(write_policy(tmp_path / "b", DEMO + "# a comment\n"))
    assert a.digest != b.digest


def test_rule_for_several_actions_is_checked_in_each(tmp_path):
    text = DEMO.replace("actions:\n", "actions:\n  night:\n    facts: {kind: {type: string}}\n",
                        1).replace("    action: day\n    when: hours < min_hours",
                                   "    action: [day, night]\n    when: hours < min_hours")
    _, problems = load_version(write_policy(tmp_path, text))
    assert any("unknown name 'hours'" in p.message for p in problems)


def test_a_flood_of_one_mistake_is_listed_once_per_hundred(tmp_path):
    text = DEMO + "".join(f"stray_{i}: 1\n" for i in range(300))
    _, problems = load_version(write_policy(tmp_path, text))
    assert len(problems) == 101
    assert problems[-1].message.startswith("… and 200 more problems of this kind")


REAL = Path(__file__).resolve().parents[2] / "policies" / "course-registration" / "2024-01.yaml"


@pytest.mark.parametrize("old, new, line, words", [
    # a typo in a table column read in many places: one problem, at the column
    ("      min_size: 6   ", "      min_sise: 6   ", "min_sise: 6",
     "column 'min_sise' is read nowhere, but 8 places read 'min_size'"),
    ("      move_or_delete_days_before: 30", "      move_or_delete_days_befor: 30",
     "move_or_delete_days_befor: 30", "did you mean 'move_or_delete_days_before'?"),
    # wrong indentation: plain words at the line itself
    ("      max_size: 12\n", "       max_size: 12\n", "       max_size: 12",
     "indented by 7 spaces, which lines up with no line above it"),
    # a number in quotes: at the value, not at the seven rules comparing it
    ("      max_size: 12\n", '      max_size: "12"\n', 'max_size: "12"',
     'course_types.sidekudos-aikuiset.max_size is text "12" — write 12 without quotes'),
    # an empty Swedish message
    ('      sv: "Kursens gruppstorlek är minst', '      sv: ""  #', 'sv: ""',
     "message.sv: the Swedish text is empty — write it"),
])
def test_one_mistake_in_a_real_policy_is_one_problem_at_its_line(tmp_path, old, new, line,
                                                                   words):
    text = REAL.read_text(encoding="utf-8")
    assert old in text
    broken = text.replace(old, new, 1)
    path = write_policy(tmp_path, broken, policy="course-registration", version="2024-01")
    _, problems = load_version(path)
    assert len(problems) == 1, [str(p) for p in problems]
    assert line in broken.splitlines()[problems[0].line - 1]
    assert words in problems[0].message
