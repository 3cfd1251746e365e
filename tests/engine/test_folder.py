import os
from pathlib import Path

import pytest

from engine.folder import (
    Limits,
    PolicyFiles,
    bundle_name_problem,
    read_fixtures,
    read_folder,
    read_paths,
    version_name_problem,
)
from engine.store import load_folder
from tests.conftest import write_policy

POLICIES = Path(__file__).resolve().parent.parent.parent / "policies"


def _codes(problems):
    return sorted((Path(p.path).name, p.code) for p in problems)


def test_the_real_policies_read_cleanly():
    files, problems = read_folder(POLICIES)
    assert problems == []
    assert "tyokokeilu-tyohonvalmennus/2025-04.yaml" in files.files
    assert all(rel.count("/") == 1 for rel in files.files)


def test_digest_covers_paths_and_contents(tmp_path):
    a = PolicyFiles("x", {"p/2024-01.yaml": b"a"})
    assert a.digest == PolicyFiles("y", {"p/2024-01.yaml": b"a"}).digest   # label not part
    assert a.digest != PolicyFiles("x", {"p/2024-02.yaml": b"a"}).digest
    assert a.digest != PolicyFiles("x", {"p/2024-01.yaml": b"b"}).digest


def test_notes_and_hidden_entries_are_not_policy_files(tmp_path):
    write_policy(tmp_path)
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / "demo" / "CHANGES.txt").write_text("notes")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.yaml").write_text("junk: [")
    files, problems = read_folder(tmp_path)
    assert problems == [] and list(files.files) == ["demo/2024-01.yaml"]


def test_dangling_link_and_link_loop_are_refused(tmp_path):
    write_policy(tmp_path)
    os.symlink(tmp_path / "nowhere.yaml", tmp_path / "demo" / "2024-02.yaml")
    os.symlink(tmp_path / "demo" / "2024-04.yaml", tmp_path / "demo" / "2024-03.yaml")
    os.symlink(tmp_path / "demo" / "2024-03.yaml", tmp_path / "demo" / "2024-04.yaml")
    _, problems = read_folder(tmp_path)
    assert _codes(problems) == [("2024-02.yaml", "bad_link"), ("2024-03.yaml", "bad_link"),
                                ("2024-04.yaml", "bad_link")]
    assert "leads nowhere" in problems[0].message
    assert "circle" in problems[1].message


def test_a_sound_link_is_followed(tmp_path):
    real = write_policy(tmp_path / "elsewhere")
    (tmp_path / "set" / "demo").mkdir(parents=True)
    os.symlink(real, tmp_path / "set" / "demo" / "2024-01.yaml")
    files, problems = read_folder(tmp_path / "set")
    assert problems == [] and files.files["demo/2024-01.yaml"] == real.read_bytes()


def test_a_huge_file_is_refused_without_being_read(tmp_path, monkeypatch):
    path = write_policy(tmp_path)
    with open(path, "ab") as f:
        f.truncate(50 * 1024 * 1024)          # sparse: 50 MB on paper, nothing on disk
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read a huge file"))
    _, problems = read_folder(tmp_path)
    assert _codes(problems) == [("2024-01.yaml", "too_large")]
    assert "52,428,800 bytes, over the limit of 1,048,576" in problems[0].message


def test_limits_are_configurable(tmp_path):
    write_policy(tmp_path)
    _, problems = read_folder(tmp_path, Limits(max_file_bytes=100))
    assert _codes(problems) == [("2024-01.yaml", "too_large")]
    _, _, _, problems = load_folder(tmp_path, Limits(max_nodes=20))
    assert _codes(problems) == [("2024-01.yaml", "too_many_values")]
    _, _, _, problems = load_folder(tmp_path, Limits(max_depth=3))
    assert _codes(problems) == [("2024-01.yaml", "too_deep")]


def test_missing_folder(tmp_path):
    _, problems = read_folder(tmp_path / "nope")
    assert [p.code for p in problems] == ["no_folder"]


def test_a_file_where_a_policy_folder_belongs(tmp_path):
    write_policy(tmp_path)
    (tmp_path / "Bad_Name").mkdir()
    (tmp_path / "notes.json").write_text("{}")
    (tmp_path / "demo" / "2024-05.json").write_text("{}")
    _, problems = read_folder(tmp_path)
    assert _codes(problems) == [("2024-05.json", "wrong_place"), ("Bad_Name", "bad_name"),
                                ("notes.json", "wrong_place")]


@pytest.mark.parametrize("stem, ok", [("2025-04", True), ("2025-04-01", True),
                                      ("2025-13", False), ("2025-02-30", False),
                                      ("latest", False), ("2025-4", False), ("v2025-04", False)])
def test_version_names(stem, ok):
    assert (version_name_problem(stem) is None) == ok


def test_read_paths_reads_a_single_file_as_a_set_of_one(tmp_path):
    path = write_policy(tmp_path)
    sets, problems = read_paths([path])
    assert problems == [] and list(sets[0].files) == ["demo/2024-01.yaml"]
    assert sets[0].display("demo/2024-01.yaml") == str(path)


def test_limits_from_the_environment(tmp_path):
    assert Limits.from_env({}) == Limits()
    assert Limits.from_env({"REHAB_RULES_MAX_DEPTH": "8"}).max_depth == 8
    with pytest.raises(ValueError, match="REHAB_RULES_MAX_NODES must be a whole number"):
        Limits.from_env({"REHAB_RULES_MAX_NODES": "lots"})


def test_notes_are_never_size_checked(tmp_path):
    write_policy(tmp_path)
    (tmp_path / "README.md").write_text("x" * 5000)
    _, problems = read_folder(tmp_path, Limits(max_file_bytes=3000))
    assert problems == []


def test_texts_beside_a_version_are_read_and_misnamed_ones_are_problems(tmp_path):
    write_policy(tmp_path)
    (tmp_path / "demo" / "2024-01.fi.md").write_text("## 1 A\n")
    (tmp_path / "demo" / "2024-01.sv.md").write_text("## 1 A\n")
    (tmp_path / "demo" / "2024-01.md").write_text("## 1 A\n")
    (tmp_path / "2024-01.fi.md").write_text("## 1 A\n")
    files, problems = read_folder(tmp_path)
    assert sorted(files.files) == ["demo/2024-01.fi.md", "demo/2024-01.sv.md",
                                   "demo/2024-01.yaml"]
    assert _codes(problems) == [("2024-01.fi.md", "wrong_place"),
                                ("2024-01.md", "bad_text_name")]


def test_a_text_is_refused_past_the_size_limit_like_a_version_file(tmp_path):
    write_policy(tmp_path)
    (tmp_path / "demo" / "2024-01.fi.md").write_text("## 1 A\n" + "x" * 20000)
    _, problems = read_folder(tmp_path, Limits(max_file_bytes=10000))
    assert _codes(problems) == [("2024-01.fi.md", "too_large")]


def test_a_folder_with_only_a_text_still_needs_a_version_file(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "2024-01.fi.md").write_text("## 1 A\n")
    _, problems = read_folder(tmp_path)
    assert _codes(problems) == [("demo", "empty")]


def test_bundle_file_names():
    assert bundle_name_problem("demo/2024-01.yaml") is None
    assert bundle_name_problem("demo/2024-01.fi.md") is None
    assert "Finnish or Swedish" in bundle_name_problem("demo/2024-01.en.md")
    assert bundle_name_problem("demo/README.md").startswith("a bundle file is named")
    assert bundle_name_problem("2024-01.yaml").startswith("a bundle file is named")


def test_fixture_files_are_read_two_folders_down_and_misplaced_ones_are_problems(tmp_path):
    root = tmp_path / "fixtures"
    (root / "demo" / "2024-01").mkdir(parents=True)
    (root / "demo" / "2024-01" / "day.yaml").write_text("cases: []\n")
    (root / "demo" / "2024-01" / "README.md").write_text("notes\n")
    (root / "demo" / "2024-01" / ".hidden.yaml").write_text("x\n")
    (root / "demo" / "stray.yaml").write_text("cases: []\n")
    (root / "demo" / "2024-01" / "old.yml").write_text("cases: []\n")
    cases, problems = read_fixtures(root)
    assert cases == {"demo/2024-01/day.yaml": b"cases: []\n"}
    assert sorted(p.path for p in problems) == [f"{root}/demo/2024-01/old.yml",
                                                 f"{root}/demo/stray.yaml"]
    assert {p.code for p in problems} == {"wrong_place"}
    assert read_fixtures(tmp_path / "none") == ({}, [])


def test_cases_are_in_the_digest_and_travel_as_one_mapping():
    plain = PolicyFiles("p", {"demo/2024-01.yaml": b"x"})
    with_cases = PolicyFiles("p", {"demo/2024-01.yaml": b"x"},
                             cases={"demo/2024-01/day.yaml": b"cases: []"})
    # a set without cases keeps the digest it always had; its cases change it
    assert plain.digest == PolicyFiles("q", {"demo/2024-01.yaml": b"x"}).digest
    assert with_cases.digest != plain.digest
    stored = with_cases.stored()
    assert stored == {"demo/2024-01.yaml": b"x", "fixtures/demo/2024-01/day.yaml": b"cases: []"}
    back = PolicyFiles.from_stored("bundle-3", stored, bundle=3)
    assert back.files == with_cases.files and back.cases == with_cases.cases
    assert back.digest == with_cases.digest and back.bundle == 3
    assert back.display_case("demo/2024-01/day.yaml") == "fixtures/demo/2024-01/day.yaml"
    # a policy named "fixtures" is a policy: its files have two parts
    named = PolicyFiles.from_stored("b", {"fixtures/2024-01.yaml": b"x"})
    assert named.files == {"fixtures/2024-01.yaml": b"x"} and named.cases == {}
