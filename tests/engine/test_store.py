import datetime as dt
import threading

import pytest

from engine import PolicyError, PolicyStore, UnknownAction, UnknownPolicy, UnknownVersion, decide
from engine.backend import DurableEvaluator
from tests.conftest import DEMO, write_policy

FACTS = {"hours": 5, "kind": "a"}


def test_lookups(demo_store):
    assert list(demo_store.policies) == ["demo"]
    assert demo_store.resolve("demo", dt.date(2024, 1, 1)).version == "2024-01"
    with pytest.raises(UnknownPolicy, match="known: demo"):
        demo_store.get_policy("nope")
    with pytest.raises(UnknownVersion):
        demo_store.get_version("demo", "1999-01")
    with pytest.raises(UnknownAction, match="known: day"):
        decide(demo_store, policy="demo", action="night", as_of="2024-05-01", facts={})


def test_missing_folder_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError, match="no such policy folder"):
        PolicyStore.load(tmp_path / "absent")


def test_broken_reload_keeps_serving(demo_root):
    store = PolicyStore.load(demo_root)
    digest = store.get_version("demo", "2024-01").digest
    write_policy(demo_root, DEMO.replace("effect: deny", "effect: forbid", 1))
    with pytest.raises(PolicyError) as info:
        store.reload()
    assert info.value.problems[0].line > 1
    assert store.get_version("demo", "2024-01").digest == digest
    assert decide(store, policy="demo", action="day", as_of="2024-05-01",
                  facts=FACTS).outcome == "deny"


def _names(store):
    return {h.name for h in store.current.prepared.values()}


def test_reload_swaps_and_releases_old_rulesets(demo_root):
    store = PolicyStore.load(demo_root)
    before = _names(store)
    assert before <= set(DurableEvaluator.registered())
    write_policy(demo_root, DEMO.replace("min_hours: 6", "min_hours: 4"))
    store.reload()
    assert not before & set(DurableEvaluator.registered())
    assert _names(store) <= set(DurableEvaluator.registered())
    assert decide(store, policy="demo", action="day", as_of="2024-05-01",
                  facts=FACTS).outcome == "allow"
    after = _names(store)
    store.close()
    assert not after & set(DurableEvaluator.registered())


def test_retired_set_is_released_only_when_idle(demo_root):
    store = PolicyStore.load(demo_root)
    with store.using() as pset:
        names = [h.name for h in pset.prepared.values()]
        write_policy(demo_root, DEMO.replace("min_hours: 6", "min_hours: 4"))
        store.reload()
        assert pset.retired and set(names) <= set(DurableEvaluator.registered())
    assert not set(names) & set(DurableEvaluator.registered())


def test_reload_under_load_never_fails_a_decision(demo_root):
    store = PolicyStore.load(demo_root)
    errors = []
    stop = threading.Event()

    def work():
        while not stop.is_set():
            try:
                decide(store, policy="demo", action="day", as_of="2024-05-01", facts=FACTS)
            except Exception as exc:          # any failure is the finding
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(10):
        write_policy(demo_root, DEMO.replace("min_hours: 6", f"min_hours: {4 + i % 3}"))
        store.reload()
    stop.set()
    for t in threads:
        t.join()
    assert errors == []


CASE = """\
cases:
  - name: {name}
    action: day
    as_of: 2024-05-01
    facts: {{hours: 7, kind: zz}}
    expect: {{error: unknown_key}}
"""


def _case_file(root, name="unknown kind", version="2024-01"):
    path = root / "demo" / version / "day.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CASE.format(name=name), encoding="utf-8")
    return path


def test_a_folder_store_serves_the_cases_of_the_fixtures_folder_beside_it(demo_root):
    _case_file(demo_root.parent / "fixtures")
    store = PolicyStore.load(demo_root)
    try:
        [case] = store.cases()
        assert (case.policy, case.version, case.name) == ("demo", "2024-01", "unknown kind")
        assert case.path == str(demo_root.parent / "fixtures" / "demo" / "2024-01" / "day.yaml")
        assert store.case_problems() == []
        # the cases are part of the set: a reload reads them again, with the digest
        digest = store.digest
        _case_file(demo_root.parent / "fixtures", name="renamed")
        store.reload()
        assert [c.name for c in store.cases()] == ["renamed"] and store.digest != digest
    finally:
        store.close()


def test_a_named_fixtures_folder_and_a_set_of_files_give_the_same_cases(demo_root, tmp_path):
    from engine.folder import read_folder
    from engine.store import with_cases

    elsewhere = tmp_path / "elsewhere"
    _case_file(elsewhere, name="elsewhere")
    _case_file(demo_root.parent / "fixtures", name="beside")
    from_folder = PolicyStore.load(demo_root, fixtures=elsewhere)
    files, _ = with_cases(read_folder(demo_root)[0], elsewhere)
    from_files = PolicyStore.from_files(files)
    try:
        assert [c.name for c in from_folder.cases()] == ["elsewhere"]
        assert [(c.name, c.path) for c in from_files.cases()] == \
            [(c.name, c.path) for c in from_folder.cases()]
        assert from_files.digest == from_folder.digest
    finally:
        from_folder.close()
        from_files.close()


def test_a_misplaced_or_broken_case_file_never_keeps_the_policies_from_loading(demo_root):
    fixtures = demo_root.parent / "fixtures"
    _case_file(fixtures).write_text("cases: [\n")
    (fixtures / "demo" / "stray.yaml").write_text("cases: []\n")
    store = PolicyStore.load(demo_root)
    try:
        assert store.cases() == []
        assert sorted(p.code for p in store.case_problems()) == ["wrong_place", "yaml_syntax"]
        assert store.resolve("demo", dt.date(2024, 5, 1)).version == "2024-01"
    finally:
        store.close()
