"""durable_rules, fenced: the only module that imports it, and every quirk relied on, by name.

durable-rules 2.0.28 is an unmaintained C extension (``../shared/design/durable-rules.md``).
The engine uses a handful of its private parts because the public ones cost too much or do the
wrong thing; each is here, in one small function named for what it does, and
``tests/engine/test_durable_host.py`` fails loudly — naming the quirk — if an upgrade changes
one. ``pyproject.toml`` pins the exact release for the same reason.

The quirks:

* **timer threads** — ``Host`` starts a dispatch thread and a 0.2 s timer in ``Host._run``;
  they steal pending actions, so a decision sees no match (§3). :class:`_QuietHost` overrides
  ``_run`` to start neither.
* **the ruleset registry** — ``Host`` has no public removal: a retired ruleset is taken out of
  ``Host._ruleset_directory`` and ``Host._ruleset_list`` and its C handle deleted (§4).
* **the C calls** — ``assert_fact``, ``retract_fact``, ``start_action_for_state``,
  ``complete_and_start_action``, ``delete_state`` and ``delete_ruleset`` of the module
  ``durable_rules_engine``, called directly: durable's own Python loop parses the session
  state as JSON and calls back per fired rule, on every decision.
* **result codes** — ``assert_fact`` answers ``(code, state)``: 0 = some rule matched (actions
  are pending), 1 = no rule matched, 2 = the fact was already observed. Any other code raises
  :class:`UnknownResult`: it would mean the library changed, and reading it as "no rule
  matched" would silently drop fired rules.
* **a list of facts** — ``assert_facts`` / ``retract_facts`` take a JSON array and answer one
  code for all of them: 1 means *some* fact matched nothing (the last code other than 0 wins,
  ``events.c`` ``handleMessages``), not that none did; the state handle is the session's
  either way (every fact of a list here carries the same ``sid``), so its actions are read.
* **a fact's fields keep their order** — an action's message is the matched fact as it was
  asserted, its fields in the order sent: a batch puts each fact's ``id`` first and finds it
  at the start of the action's text.
* **the JSON reader** — refuses exponents (``1e-05`` → error 204): facts are written as plain
  decimals by the caller.
* **Python 3.13** — 2.0.28's ``rules.c`` calls ``PyEval_CallObject``, which 3.13 removed; the
  Makefile builds it with ``-DPyEval_CallObject=PyObject_CallObject`` (same arguments).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import durable_rules_engine as _c
from durable import engine as _engine

__all__ = ["MATCHED", "NOT_MATCHED", "OBSERVED", "UnknownResult", "assert_fact",
           "assert_facts", "delete_ruleset", "delete_state", "fired_actions", "fired_text",
           "register",
           "registered", "retract_fact", "retract_facts"]

MATCHED, NOT_MATCHED, OBSERVED = 0, 1, 2


class UnknownResult(RuntimeError):
    """durable_rules answered a result code this adapter does not know."""


class _QuietHost(_engine.Host):
    """A durable_rules host without the dispatch and timer threads (quirk: timer threads)."""

    def _run(self) -> None:
        return None


_HOST: _QuietHost | None = None


def _host() -> _QuietHost:
    global _HOST
    if _HOST is None:
        _HOST = _QuietHost()
    return _HOST


def register(name: str, definition: dict[str, Any]) -> Any:
    """Create the ruleset ``name`` and return its C handle. ``definition`` is consumed (the
    library mutates it): pass a copy."""
    host = _host()
    host.set_rulesets({name: definition})
    return host.get_ruleset(name)._handle


def registered() -> list[str]:
    """Names of the rulesets in the engine now."""
    return sorted(_host()._ruleset_directory)


def delete_ruleset(name: str) -> Any:
    """Take ``name`` out of the host's registry and free it; its handle, or None if unknown.
    Delete the ruleset's sessions first: ``delete_ruleset`` leaves them behind (§4)."""
    host = _host()
    ruleset = host._ruleset_directory.pop(name, None)
    if ruleset is None:
        return None
    host._ruleset_list.remove(ruleset)
    _c.delete_ruleset(ruleset._handle)
    return ruleset._handle


def _checked(result: tuple[int, Any], what: str) -> Any:
    code = result[0]
    if code == MATCHED:
        return result[1]
    if code == NOT_MATCHED:
        return None
    if code == OBSERVED:
        raise UnknownResult(f"{what}: durable_rules says the fact was already observed "
                            "(result code 2); every fact carries a fresh id, so this is a bug")
    raise UnknownResult(f"{what}: durable_rules answered result code {code}, which "
                        "engine/durable_host.py does not know — did the library change?")


def assert_fact(handle: Any, fact: str) -> Any:
    """Assert a fact (JSON text); the session state handle when a rule matched, else None."""
    return _checked(_c.assert_fact(handle, fact), "assert_fact")


def assert_facts(handle: Any, facts: str) -> Any:
    """Assert a JSON array of facts of one session in one call; the session's state handle
    (quirk: a list of facts — code 1 says only that some fact matched nothing)."""
    code, state = _c.assert_facts(handle, facts)
    if code in (MATCHED, NOT_MATCHED):
        return state
    return _checked((code, state), "assert_facts")


def retract_facts(handle: Any, facts: str) -> Any:
    """Retract a JSON array of ``{"id": …, "sid": …}`` of one session; its state handle."""
    code, state = _c.retract_facts(handle, facts)
    if code in (MATCHED, NOT_MATCHED):
        return state
    return _checked((code, state), "retract_facts")


def retract_fact(handle: Any, fact: str) -> Any:
    """Retract a fact by its ``{"id": …, "sid": …}``; the state handle when actions wait."""
    return _checked(_c.retract_fact(handle, fact), "retract_fact")


def fired_actions(handle: Any, state: Any) -> Iterator[str]:
    """The action message of every pending action of a session, completing each: the names
    of the rules that fired are their first keys (``{"r12": {…}}``)."""
    action = _c.start_action_for_state(handle, state)
    if not action:
        return
    message = action[1]                  # start_action…: (state, message); then a message
    while message:
        yield message
        message = _c.complete_and_start_action(handle, state)


def fired_text(handle: Any, state: Any) -> str:
    """:func:`fired_actions` as one text, a message a line (JSON text holds no raw newline):
    a batch reads them all with one regular expression."""
    action = _c.start_action_for_state(handle, state)
    if not action:
        return ""
    messages: list[str] = []
    add, step = messages.append, _c.complete_and_start_action
    message = action[1]                  # start_action…: (state, message); then a message
    while message:
        add(message)
        message = step(handle, state)
    return "\n".join(messages)


def delete_state(handle: Any, sid: str) -> None:
    """Delete a session; one never created (error 309) is already gone."""
    try:
        _c.delete_state(handle, sid)
    except Exception as exc:
        if "309" not in str(exc):
            raise
