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


def test_quirk_a_list_of_facts_answers_one_code_and_the_sessions_state():
    """``assert_facts`` answers code 1 when *some* fact of the list matched nothing, with the
    session's state all the same: its actions (each naming the fact it matched) are read, and
    ``retract_facts`` takes every fact out by id."""
    handle = durable_host.register(NAME, _rules())
    try:
        facts = ('[{"a":5,"id":"b1","sid":"s","_opens":1},{"a":0,"id":"b2","sid":"s"},'
                 '{"a":9,"id":"b3","sid":"s"}]')
        code, state = durable_host._c.assert_facts(handle, facts)
        assert code == durable_host.NOT_MATCHED, "assert_facts' code for a list changed"
        assert sorted(_fired(handle, state)) == ["r0", "r0", "sentinel"]
        state = durable_host.assert_facts(handle, facts.replace('"b', '"c'))
        messages = list(durable_host.fired_actions(handle, state))
        matched = sorted((_action_name(m), m[m.rindex('"id":"') + 6:][:2]) for m in messages)
        assert matched == [("r0", "c1"), ("r0", "c3"), ("sentinel", "c1")]
        ids = '[{"id":"c1","sid":"s"},{"id":"c2","sid":"s"},{"id":"c3","sid":"s"}]'
        _fired(handle, durable_host.retract_facts(handle, ids))
        again = durable_host.assert_facts(handle, facts.replace('"b', '"c'))   # ids free again
        assert sorted(_fired(handle, again)) == ["r0", "r0", "sentinel"]
    finally:
        durable_host.delete_state(handle, "s")
        durable_host.delete_ruleset(NAME)


def test_a_list_with_an_unknown_code_raises(monkeypatch):
    monkeypatch.setattr(durable_host._c, "assert_facts", lambda handle, facts: (7, 0))
    with pytest.raises(durable_host.UnknownResult, match="result code 7"):
        durable_host.assert_facts(None, "[]")


def test_quirk_an_action_shows_the_fact_with_its_fields_in_the_order_sent():
    """A batch writes each fact's id first and reads it at the start of each action's text
    (engine/backend.py ``_FIRED``); ``fired_text`` is every action, a line each."""
    handle = durable_host.register(NAME, _rules())
    try:
        facts = ('[{"id":"b1","sid":"s","_opens":1,"a":5,"t":"x\\"y"},'
                 '{"id":"b2","sid":"s","a":0},{"id":"b3","sid":"s","a":9}]')
        text = durable_host.fired_text(handle, durable_host.assert_facts(handle, facts))
        lines = sorted(text.split("\n"))
        assert len(lines) == 3 and lines[2].startswith('{"sentinel":{"m":{"id":"b1"')
        assert lines[0].startswith('{"r0":{"m":{"id":"b1","sid":"s","_opens":1,"a":5'), \
            "durable no longer keeps a fact's fields in order: revisit backend._FIRED"
        assert lines[1].startswith('{"r0":{"m":{"id":"b3","sid":"s","a":9')
        ids = '[{"id":"b1","sid":"s"},{"id":"b2","sid":"s"},{"id":"b3","sid":"s"}]'
        assert durable_host.fired_text(handle, durable_host.retract_facts(handle, ids)) == ""
    finally:
        durable_host.delete_state(handle, "s")
        durable_host.delete_ruleset(NAME)
