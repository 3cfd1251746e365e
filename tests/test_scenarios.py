"""A planner's whole change, as policies/README.md tells it.

tests/scenarios/course-registration-2027/ holds what a planner writes for a new revision with
group size 5–10 (was 6–12), confirmation at 5 (was 6) and moving or deleting 45 days before
the start (was 30): a short overlay and only the fixture cases that change. Here it is laid
over a copy of policies/ and fixtures/ and must pass ``rehab-rules check``.

tests/scenarios/tyokokeilu-2025-04/ starts one step earlier, from Kela's revised text: the
04/2025 text of work try-out and job coaching (section 4.2 as seed 004 gives the new entry,
"uusi kirjaus") is fed to ``rehab-rules review`` against 2023-01, which finds section 4.2,
the rules resting on it and nothing else, and writes the skeleton overlay; the planner fills
it in (filled-in.yaml), writes the rules anew (completion.yaml), says which rule stands
(reviewed.yaml), and ``check`` passes. The result decides exactly as the repository's own
2025-04.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.diff import diff_versions
from engine.store import load_folder

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


@pytest.mark.slow
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


@pytest.mark.slow
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


# -- from the revised text: tyokokeilu-tyohonvalmennus 04/2025 --------------------------------

TT = "tyokokeilu-tyohonvalmennus"
REVISION = ROOT / "tests" / "scenarios" / "tyokokeilu-2025-04"


@pytest.fixture
def before_2025(tmp_path: Path) -> Path:
    """The repository as it was before revision 04/2025: no 2025-04 overlay, text or cases."""
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures")
    for path in (tmp_path / "policies" / TT).glob("2025-04.*"):
        path.unlink()
    shutil.rmtree(tmp_path / "fixtures" / TT / "2025-04")
    return tmp_path


def test_the_revised_text_is_the_seeds_new_entry_and_the_repositorys_text():
    text = (REVISION / "2025-04.fi.md").read_text(encoding="utf-8")
    assert "Asiakkaan kuntoutuspäivän pituus on vähintään 6 tuntia. Tästä vähintään 5 tuntia " \
           "on asiakkaan työskentelyä työpaikalla." in text
    assert text == (ROOT / "policies" / TT / "2025-04.fi.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_from_the_revised_text_to_an_overlay_that_passes_check(before_2025):
    work = before_2025
    overlay = work / "policies" / TT / "2025-04.yaml"

    # 1. the checklist: section 4.2, the rules resting on it and what they read; nothing else
    review = CliRunner().invoke(main, ["review", TT, str(REVISION / "2025-04.fi.md"),
                                       "--policies", str(work / "policies"), "--json"])
    assert review.exit_code == 0, review.output
    body = json.loads(review.output)
    assert body["against"] == "2023-01"
    assert (body["changed"], body["added"], body["removed"], body["renumbered"],
            body["unchanged"]) == (1, 0, 0, 0, 18)
    (section,) = body["sections"]
    assert (section["change"], section["number"], section["heading"]) == (
        "changed", "4.2", "Asiakkaan kuntoutuspäivä")
    assert section["rules"] == ["TT-1-day-length", "TT-1-workplace-hours",
                                "TT-1-workplace-exceeds-total"]
    assert section["parameters"] == ["service_names", "rehab_day_hours",
                                     "rehab_day_min_workplace_hours"]
    assert section["quotes_gone"] == ["TT-1-day-length", "TT-1-workplace-hours"]
    assert {"kind": "added", "words": "vähintään"} in section["words"]
    assert section["removed_sentences"] == [
        "Asiakkaan kuntoutuspäivän pituus on 6 tuntia.",
        "Tästä vähintään 5 tuntia on asiakkaan työskentelyä työ-/työkokeilupaikalla."]

    # 2. the skeleton, and the text beside it; check asks for what only the planner knows
    written = CliRunner().invoke(main, ["review", TT, str(REVISION / "2025-04.fi.md"),
                                        "--policies", str(work / "policies"),
                                        "--overlay", "2025-04"])
    assert written.exit_code == 0, written.output
    skeleton = overlay.read_text(encoding="utf-8")
    assert 'extends: "2023-01"' in skeleton and "\neffective_from:\n" in skeleton
    assert "#   TT-1-workplace-exceeds-total (deny, rehab_day)" in skeleton
    result = _check(work)
    assert result.exit_code == 1
    problems = [line.split(": ", 1)[1] for line in result.output.splitlines()
                if line.startswith(str(work))]
    assert problems[2:] == [
        "effective_from: must have a value",
        "change 1: fi: the Finnish text is empty — write it",
        "change 1: sv: the Swedish text is empty — write it",
        "change 1: en: the English text is empty — write it"]
    assert all("(in version 2025-04, which inherits the rule: write it anew there" in p
               for p in problems[:2])                                # the quotes that are gone

    # 3. filled in, the rules of 4.2 written anew: check lists the one rule left unreviewed
    filled = yaml.safe_load((REVISION / "filled-in.yaml").read_text(encoding="utf-8"))
    text = skeleton.replace("\neffective_from:\n",
                            f"\neffective_from: {filled['effective_from']}\n")
    for lang in ("fi", "sv", "en"):
        said = json.dumps(filled["changes"][0][lang], ensure_ascii=False)
        text = text.replace(f'    {lang}: ""', f"    {lang}: {said}")
    text += (REVISION / "completion.yaml").read_text(encoding="utf-8")
    overlay.write_text(text, encoding="utf-8")
    result = _check(work)
    assert result.exit_code == 1
    assert f"{work}/policies/{TT}/2025-04.fi.md:26: section 4.2 Asiakkaan kuntoutuspäivä " \
           "changed against 2023-01, and rule TT-1-workplace-exceeds-total" in result.output

    # 4. the rule that stands is reviewed, the cases of the new rule written: ready
    overlay.write_text(text + (REVISION / "reviewed.yaml").read_text(encoding="utf-8"),
                       encoding="utf-8")
    shutil.copytree(ROOT / "fixtures" / TT / "2025-04", work / "fixtures" / TT / "2025-04")
    result = _check(work)
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("OK: ready to publish")

    # what the planner made decides and cites exactly as the repository's 2025-04
    _, made, _, problems = load_folder(work / "policies")
    _, ours, _, _ = load_folder(ROOT / "policies")
    assert problems == []
    mine, theirs = made[TT].versions[-1], ours[TT].versions[-1]
    assert diff_versions(theirs, mine).empty
    assert [r.describe() for r in mine.rules] == [r.describe() for r in theirs.rules]
    assert mine.reviewed == theirs.reviewed
