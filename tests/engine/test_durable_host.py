"""Every durable_rules quirk the engine relies on (engine/durable_host.py), pinned by name.

Each test names the quirk it guards: if an upgrade of durable-rules changes one, the failure
says which part of the adapter to revisit instead of a decision silently missing a rule.
"""

from __future__ import annotations

import threading

import pytest
from durable import engine as durable_engine

from engine import durable_host
from engine.backend import GUARD, OPENS, _action_name, _definition  # noqa: F401

NAME = "durable-host-test"


def _rules() -> dict:
    def nothing(c):
        return None
    return {"r0": {"all": [{"m": {"$and": [GUARD, {"$gt": {"a": 1}}]}}], "run": nothing},
            "sentinel": {"pri": 1_000_000, "run": nothing,
                         "all": [{"m": {"$and": [GUARD, {"$ex": {OPENS: 1}}]}}]}}


@pytest.fixture
def handle():
    handle = durable_host.register(NAME, _rules())
    yield handle
    durable_host.delete_state(handle, "s")
    durable_host.delete_ruleset(NAME)
    assert NAME not in durable_host.registered()


def _fired(handle, state) -> list[str]:
    return [] if state is None else [_action_name(m) for m in
                                     durable_host.fired_actions(handle, state)]


def test_quirk_timer_threads_host_run_starts_them_and_the_quiet_host_none():
    assert "_run" in vars(durable_engine.Host), \
        "durable_rules' Host no longer starts its threads in _run: revisit _QuietHost"
    before = threading.active_count()
    durable_host._QuietHost()
    assert threading.active_count() == before


def test_quirk_ruleset_registry_is_the_hosts_private_directory_and_list(handle):
    host = durable_host._host()
    assert NAME in host._ruleset_directory, "Host._ruleset_directory is gone: revisit removal"
    assert host._ruleset_directory[NAME] in host._ruleset_list, "Host._ruleset_list is gone"
    assert NAME in durable_host.registered()


def test_quirk_result_codes_matched_not_matched_observed(handle):
    assert durable_host.assert_fact(handle, '{"a":0,"id":"n1","sid":"s"}') is None   # code 1
    fact = '{"a":5,"id":"x1","sid":"s","_opens":1}'
    assert _fired(handle, durable_host.assert_fact(handle, fact)) == ["r0", "sentinel"]
    with pytest.raises(durable_host.UnknownResult, match="already observed"):     # code 2
        durable_host.assert_fact(handle, fact)


def test_quirk_an_unknown_result_code_raises_rather_than_reading_no_match(monkeypatch):
    monkeypatch.setattr(durable_host._c, "assert_fact", lambda handle, fact: (7, 0))
    with pytest.raises(durable_host.UnknownResult, match="result code 7"):
        durable_host.assert_fact(None, "{}")


def test_quirk_a_fact_retracted_by_its_id_alone_is_gone(handle):
    """The evaluator retracts each decision's fact by ``{"id", "sid"}`` only: after such a
    retraction the same id can be asserted again (refused as already observed while held)."""
    fact = '{"a":5,"id":"x1","sid":"s","_opens":1}'
    assert _fired(handle, durable_host.assert_fact(handle, fact)) == ["r0", "sentinel"]
    _fired(handle, durable_host.retract_fact(handle, '{"id":"x1","sid":"s"}'))
    assert _fired(handle, durable_host.assert_fact(handle, fact)) == ["r0", "sentinel"]


def test_quirk_the_json_reader_refuses_exponents(handle):
    """Why engine/backend.dumps writes 1e-05 as 0.00001."""
    with pytest.raises(Exception, match="204"):
        durable_host.assert_fact(handle, '{"a":1e-05,"id":"e1","sid":"s"}')


def test_deleting_a_session_never_created_is_not_an_error(handle):
    durable_host.delete_state(handle, "never-made")
