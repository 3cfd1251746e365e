"""How one worker keeps serving the active bundle (service/policy_source)."""

from __future__ import annotations

import pytest

from engine import PolicyError, PolicyStore, Problem
from service.bundles import BundleStore
from service.database import make_engine
from service.errors import DatabaseNotReady
from service.metrics import Metrics
from service.policy_source import PolicySource
from tests.service.test_admin import add_policy


@pytest.fixture
def bundles(sqlite_url) -> BundleStore:
    return BundleStore(make_engine(sqlite_url))


def _source(bundles, policies_dir, **kw) -> PolicySource:
    return PolicySource(bundles, policies_dir, check_seconds=0, **kw)


def test_boot_publishes_the_folder_into_an_empty_database(bundles, policies_dir):
    source = _source(bundles, policies_dir)
    assert source.serving == 1 and bundles.active().bundle_id == 1
    assert sorted(source.current().policies) == ["tiny"]


def test_without_bootstrap_an_empty_database_is_refused(bundles, policies_dir):
    with pytest.raises(DatabaseNotReady, match="rehab-rules publish"):
        _source(bundles, policies_dir, bootstrap=False)


def test_a_worker_follows_an_activation_made_elsewhere(bundles, policies_dir):
    source = _source(bundles, policies_dir)
    add_policy(policies_dir)
    bundle, _ = bundles.publish_folder(policies_dir, by="elsewhere")
    assert sorted(source.current().policies) == ["other", "tiny"]
    assert source.serving == bundle.id
    bundles.activate(1, "elsewhere")
    assert sorted(source.current().policies) == ["tiny"]


def test_files_on_disk_are_never_read_after_boot(bundles, policies_dir):
    source = _source(bundles, policies_dir)
    (policies_dir / "tiny" / "2025-01.yaml").write_text("policy: [")
    assert sorted(source.current().policies) == ["tiny"]
    with pytest.raises(PolicyError):
        source.reload(by="me")                  # the broken folder is not published
    assert source.serving == 1 and bundles.count() == 1


def test_a_bundle_that_does_not_load_here_keeps_the_old_set_and_says_so(
        bundles, policies_dir, monkeypatch):
    metrics = Metrics()
    source = _source(bundles, policies_dir, metrics=metrics)
    add_policy(policies_dir)
    real_replace = PolicyStore.replace

    def refuse(self, files):                     # in the worker, not at publish
        if files.bundle is not None:
            raise PolicyError([Problem("x", 1, "the rule engine refused it",
                                       "engine_refused")])
        return real_replace(self, files)

    monkeypatch.setattr(PolicyStore, "replace", refuse)
    bundles.publish_folder(policies_dir, by="elsewhere")
    assert sorted(source.current().policies) == ["tiny"]
    status = source.status()
    assert status["serving"] == 1 and status["active"] == 2
    assert "bundle 2 does not load" in status["error"]
    assert "rehab_rules_policy_bundle_stale 1.0" in metrics.render()
    monkeypatch.setattr(PolicyStore, "replace", real_replace)
    source.current()                             # backing off: not yet tried again
    assert source.serving == 1
    source.follow(force=True)                    # the retry (or the next activation) loads it
    assert source.serving == 2 and source.status()["error"] is None
    assert "rehab_rules_policy_bundle_stale 0.0" in metrics.render()
    assert "rehab_rules_policy_bundle 2.0" in metrics.render()


def test_boot_falls_back_to_the_newest_bundle_that_loads(bundles, policies_dir, monkeypatch):
    bundles.publish_folder(policies_dir, by="me")
    add_policy(policies_dir)
    bundles.publish_folder(policies_dir, by="me")
    real = PolicyStore.from_files

    def refuse_second(files, *args, **kwargs):
        if files.bundle == 2:
            raise PolicyError([Problem("x", 1, "refused", "engine_refused")])
        return real(files, *args, **kwargs)

    monkeypatch.setattr(PolicyStore, "from_files", staticmethod(refuse_second))
    source = _source(bundles, policies_dir)
    assert source.serving == 1 and "bundle 2 does not load" in source.status()["error"]


def test_an_activation_during_boot_is_picked_up_by_the_next_request(
        bundles, policies_dir, monkeypatch):
    bundles.publish_folder(policies_dir, by="me")
    real = PolicyStore.from_files

    def slow(files, *args, **kwargs):
        store = real(files, *args, **kwargs)
        monkeypatch.setattr(PolicyStore, "from_files", staticmethod(real))
        add_policy(policies_dir)                 # meanwhile another host publishes
        bundles.publish_folder(policies_dir, by="elsewhere")
        return store

    monkeypatch.setattr(PolicyStore, "from_files", staticmethod(slow))
    source = _source(bundles, policies_dir)
    assert source.serving == 1
    assert sorted(source.current().policies) == ["other", "tiny"]


def test_a_switch_in_a_frozen_worker_frees_the_old_bundle_and_freezes_the_new():
    """service.wsgi freezes a worker's start-up objects; after a bundle switch the replaced
    objects' cycles are collected and the new ones frozen. A process that never froze (the
    tests, the CLI) is left as it is."""
    import gc
    import weakref

    from service.policy_source import _refreeze

    class Node:
        pass

    def cycle() -> Node:
        node = Node()
        node.self = node
        return node

    assert gc.get_freeze_count() == 0
    _refreeze()
    assert gc.get_freeze_count() == 0
    old = cycle()
    gone = weakref.ref(old)
    gc.freeze()
    try:
        del old                                  # garbage, but frozen: never collected …
        gc.collect()
        assert gone() is not None
        new = cycle()
        _refreeze()                              # … until the switch thaws and collects
        assert gone() is None
        assert gc.get_freeze_count() > 0 and gc.is_tracked(new)
    finally:
        gc.unfreeze()
