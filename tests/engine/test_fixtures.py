import textwrap

from engine.fixtures import coverage_gaps, load_cases, run_case

CASES = textwrap.dedent('''\
    cases:
      - name: short day
        action: day
        as_of: 2024-05-01
        facts: {hours: 5, kind: a, start: 2026-08-31}
        expect:
          outcome: deny
          fired: [TT-1-short, TT-3-due, TT-4-size]
          results: {size_min: 6}
          obligations: {TT-3-due: 2027-02-28}
      - name: unknown kind
        action: day
        as_of: 2024-05-01
        facts: {hours: 7, kind: zz}
        expect: {error: unknown_key}
''')


def _write(root, text=CASES, version="2024-01"):
    path = root / "demo" / version / "day.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_cases_pass_and_dates_are_text(demo_store, tmp_path):
    cases, problems = load_cases([_write(tmp_path)])
    assert problems == [] and len(cases) == 2
    assert cases[0].facts["start"] == "2026-08-31" and cases[0].line == 2
    assert [run_case(demo_store, c).failures for c in cases] == [[], []]


def test_failures_say_what_differed(demo_store, tmp_path):
    text = CASES.replace("outcome: deny", "outcome: allow").replace(
        "{size_min: 6}", "{size_min: 7}").replace("2027-02-28", "2027-03-01").replace(
        "[TT-1-short, TT-3-due, TT-4-size]", "[TT-1-short, TT-2-unpaid]").replace(
        "unknown_key", "invalid_facts")
    cases, _ = load_cases([_write(tmp_path, text)])
    first, second = (run_case(demo_store, c).failures for c in cases)
    assert first == [
        "outcome: expected allow, got deny",
        "fired: expected but not fired ['TT-2-unpaid']; fired but not expected "
        "['TT-3-due', 'TT-4-size']",
        "results.size_min: expected 7, got 6",
        "obligations.TT-3-due: expected due 2027-03-01, got 2027-02-28",
    ]
    assert second[0].startswith("refused with unknown_key")


def test_a_case_runs_pinned_even_before_its_version_and_fails_without_one(demo_store,
                                                                          tmp_path):
    cases, _ = load_cases([_write(tmp_path, CASES.replace("2024-05-01", "2023-12-31"))])
    assert run_case(demo_store, cases[0]).ok      # a what-if dated before the version
    cases, _ = load_cases([_write(tmp_path / "other", version="2023-01")])
    failures = run_case(demo_store, cases[1]).failures      # even one expecting an error
    assert len(failures) == 1 and failures[0].startswith("no such version: policy demo has "
                                                         "no version '2023-01'")


def test_cases_stay_pinned_when_a_newer_version_arrives(demo_root, tmp_path):
    """2025-01 drops the minimum to 4 h; the 2024-01 case dated 2025-03 still sees 6 h."""
    from engine import PolicyStore
    from tests.conftest import DEMO, write_policy

    write_policy(demo_root, DEMO.replace('version: "2024-01"', 'version: "2025-01"').replace(
        "effective_from: 2024-01-01", "effective_from: 2025-01-01").replace(
        "min_hours: 6", "min_hours: 4"), version="2025-01")
    store = PolicyStore.load(demo_root)
    try:
        cases, _ = load_cases([_write(tmp_path / "fx", CASES.replace("2024-05-01",
                                                                     "2025-03-10"))])
        assert [run_case(store, c).failures for c in cases] == [[], []]
    finally:
        store.close()


def test_malformed_fixture_file(tmp_path):
    _, problems = load_cases([_write(tmp_path, "cases:\n  - name: x\n    actoin: day\n")])
    assert {p.line for p in problems} == {2, 3}
    assert any("unknown key 'actoin'; did you mean 'action'?" in p.message for p in problems)


def test_coverage_lists_rules_without_both_kinds_of_case(demo_store, tmp_path):
    cases, _ = load_cases([_write(tmp_path)])
    gaps = coverage_gaps(demo_store, [run_case(demo_store, c) for c in cases])
    text = "\n".join(gaps)
    assert "rule TT-1-short (version 2024-01) has no case" in text       # fires, never silent
    assert "rule TT-2-unpaid (version 2024-01) never fires" in text
    assert "TT-5-groups" in text
    assert all(g.split(": rule")[0].rsplit(":", 1)[0].endswith("2024-01.yaml") for g in gaps)


def test_a_sets_cases_read_from_its_files_match_the_same_folder_on_disk(demo_store, tmp_path):
    """set_suite reads the cases a set carries (a bundle's) as load_suite reads a folder."""
    from engine.fixtures import load_suite, set_suite
    from engine.folder import PolicyFiles, read_fixtures

    _write(tmp_path / "fixtures")
    on_disk, problems = load_suite([tmp_path / "fixtures"], demo_store.policies)
    cases, _ = read_fixtures(tmp_path / "fixtures")
    carried, found = set_suite(PolicyFiles("bundle-1", cases=cases), demo_store.policies)
    assert problems == found == []
    assert [(c.name, c.line, c.facts, c.expect) for c in carried] == \
        [(c.name, c.line, c.facts, c.expect) for c in on_disk]
    assert carried[0].where == "fixtures/demo/2024-01/day.yaml:2"
    broken = PolicyFiles("b", cases={"demo/2024-01/day.yaml": b"cases:\n  - name: [\n"})
    assert [p.path for p in set_suite(broken, demo_store.policies)[1]] == \
        ["fixtures/demo/2024-01/day.yaml"]


def test_coverage_problems_stand_at_the_rules_line(demo_store, tmp_path):
    from engine.fixtures import coverage_problems

    cases, _ = load_cases([_write(tmp_path)])
    results = [run_case(demo_store, c) for c in cases]
    problems = coverage_problems(demo_store, results)
    assert problems and {p.code for p in problems} == {"uncovered"}
    assert [str(p) for p in problems] == coverage_gaps(demo_store, results)
