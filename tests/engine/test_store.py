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
