"""Deciding on durable_rules: one session per ruleset, a fact per decision.

durable_rules itself is reached only through :mod:`engine.durable_host`, which fences every
private part and result code relied on.

Built around what was measured (``../shared/design/durable-rules.md``):

* ``QuietHost`` — no 0.2 s background timer threads, which otherwise steal pending actions and
  make the request see no match (§3).
* Facts are *asserted* (every matching rule fires), never posted (only the first fires) (§2).
* Every pattern is ANDed with ``{'$nex': {'$s': 1}}`` so no rule matches the session's own
  state fact and loops forever (§1, upstream #288).
* A sentinel rule makes an action run in every session before it can be deleted; without it,
  deleting a session in which nothing ran frees uninitialised memory (§2). It matches the
  field ``_opens``, which only a session's first fact carries (no planner's name starts with
  ``_``): on every later decision it would be one more activation to run and drain.
* Each ruleset keeps one session (a fresh one mallocs and clears state for every rule, §5):
  a decision asserts its fact, reads the actions that fired straight from durable's C calls
  (no Python closure or JSON round trip of the session state per fired rule), and retracts
  the fact by its id alone (the session keeps facts by id; a test pins that this removes
  it). Each fact carries a unique ``id`` so the same content twice is never "already
  observed". On any error the session is deleted and the next decision starts a new one; a
  retired ruleset's session is deleted before the ruleset (``delete_ruleset`` leaves
  sessions behind, §4).
* One process-wide lock around every call: the C code has no locks and never releases the GIL,
  so threads gain nothing from running it concurrently and lose everything if they do (§3).
* Ruleset definitions are deep-copied (creation mutates them) and removed with
  ``delete_ruleset`` when a reload retires them (§4).
* A batch (:meth:`DurableEvaluator.fired_many`) asserts the messages of one plan as one JSON
  array in the same session, up to :data:`CHUNK` at a time: each fact's id names its place
  and comes first, so every action read tells early in its text which message it belongs
  to; all are retracted in one call.
  No rule joins two facts (each has the one pattern ``m``), so facts side by side in a
  session cannot change each other's matches.
* A batch hands its derived values, not messages (:meth:`DurableEvaluator.fired_values`):
  each plan's message JSON is written straight from them by a function generated once per
  plan (:func:`_writer`), the same text ``dumps(message_for(plan, values))`` gives, without
  the message dict and the JSON encoder's per-call cost; a value it does not write plainly
  (a float, a date, anything unusual) sends that message the long way.
* A batch asserts each *distinct* message once: identical messages (a month of one
  participant's days asks the same thing many times) share the rules it fired, each item
  getting its own copy of the list. A fact's rules depend only on its own content (no rule
  joins two facts), so this changes no answer.
* durable_rules fires a rule once per true branch of an ``$or``: a small ``$or``'s branches
  are registered exclusive (:func:`_exclusive`, each ANDed with the missing-aware complement
  of the earlier comparisons), so the usual rule fires once and its action is read once.
* Facts are serialised here, not by durable: its JSON parser refuses exponent notation
  (``1e-05`` → error 204, found by the differential test), so floats are written as plain
  decimals.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import re
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine import durable_host
from engine.compiler import LIMITS, simultaneous_bound
from engine.derive import message_for
from engine.errors import EvaluationError
from engine.expressions import Table
from engine.model import ActionPlan, json_value

__all__ = ["CHUNK", "GUARD", "OPENS", "DurableEvaluator", "Prepared", "dumps"]

GUARD = {"$nex": {"$s": 1}}
OPENS = "_opens"          # carried by a session's first fact only: the sentinel matches it
# an action of a batch: '{"r12":{"m":{"id":"b34",…' (the rule, the fact's place); a quote
# inside a text value is escaped, so '{"r' only starts an action
_FIRED = re.compile(r'\{"r(\d+)":\{"m":\{"id":"b(\d+)"')
_NUMBERS = {str(i): i for i in range(4096)}     # a ruleset holds at most 4096 rules (§6)
_NO_FLOATS = frozenset({"integer", "boolean", "string", "hetu", "date"})
CHUNK = 250              # facts asserted in one call of a batch (bounds a session's size)
_LOCK = threading.Lock()
_sids = itertools.count(1)
_names = itertools.count(1)


def _nothing(c: Any) -> None:
    """Every rule's action: the loop in :func:`_drain` only needs to know which rule fired."""
# a comparison's complement; a missing field makes every comparison false (durable-rules.md
# §1), so "not x < 5" is "x is missing, or x >= 5"
_COMPLEMENT = {"$lt": "$gte", "$lte": "$gt", "$gt": "$lte", "$gte": "$lt", "$eq": "$neq",
               "$neq": "$eq"}
_EXCLUSIVE_MAX = 4       # branches of an $or made exclusive (the last gets 2³ paths)
_EXCLUSIVE_RULES = 100   # plans this large keep their $or as written (durable's limits, §6)


def _complement(condition: dict[str, Any]) -> dict[str, Any] | None:
    """The exact complement of a comparison of a field with a constant, as a condition:
    ``{'$neq': {'a': 1}}`` → ``{'$or': [{'$nex': {'a': 1}}, {'$eq': {'a': 1}}]}`` (``as_of``,
    in every message, without the first branch); None for anything else."""
    if len(condition) != 1:
        return None
    (op, arg), = condition.items()
    if op not in _COMPLEMENT or not isinstance(arg, dict) or len(arg) != 1:
        return None
    (name, value), = arg.items()
    if type(value) not in (str, int, float, bool):
        return None
    complement = {_COMPLEMENT[op]: {name: value}}
    if name == "as_of":
        return complement
    return {"$or": [{"$nex": {name: 1}}, complement]}


def _exclusive(condition: dict[str, Any]) -> dict[str, Any]:
    """The condition with each small ``$or``'s branches made exclusive, so a rule fires once
    where durable_rules fires it once per true branch (a third of a batch's actions on the
    peer benchmark): each branch is ANDed with the complement of every earlier one that has
    an exact one (:func:`_complement`). Where some branch holds, the first that holds still
    does, and each branch only narrows, so the rule matches exactly what it matched. An
    ``$or`` of equalities on one field (``x in [..]``) is exclusive already and stays."""
    if len(condition) != 1:
        return condition
    (op, arg), = condition.items()
    if op not in ("$and", "$or"):
        return condition
    parts = [_exclusive(part) for part in arg]
    if op == "$and" or not 2 <= len(parts) <= _EXCLUSIVE_MAX or _one_field(parts):
        return {op: parts}
    branches: list[dict[str, Any]] = []
    earlier: list[dict[str, Any]] = []
    for part in parts:
        branches.append({"$and": [*copy.deepcopy(earlier), part]} if earlier else part)
        complement = _complement(part)
        if complement is not None:
            earlier.append(complement)
    return {"$or": branches}


def _one_field(parts: list[dict[str, Any]]) -> bool:
    """Every part an equality of one and the same field (``x in [..]``)."""
    names = set()
    for part in parts:
        arg = part.get("$eq")
        if len(part) != 1 or not isinstance(arg, dict) or len(arg) != 1:
            return False
        names.update(arg)
    return len(names) == 1


def _leaves(condition: dict[str, Any], out: set[str]) -> set[str]:
    """Every distinct comparison and existence test of a condition, as JSON text."""
    for op, arg in condition.items():
        if op in ("$and", "$or"):
            for part in arg:
                _leaves(part, out)
        else:
            out.add(json.dumps({op: arg}, sort_keys=True))
    return out


def _conditions(plan: ActionPlan) -> list[dict[str, Any]]:
    """Each rule's condition as durable_rules gets it: with exclusive ``$or`` branches
    (:func:`_exclusive`) unless the plan is large or the rewritten conditions would cross a
    limit the compiler keeps the written ones under (durable-rules.md §6): distinct tests,
    missing tests, and the bound of activations for one fact — the rewritten conditions'
    normal form has more branches than the written one (though fewer hold at once), and
    durable's stack of matched tests holds at most one per branch."""
    written = [copy.deepcopy(r.condition) for r in plan.rules]
    if len(written) > _EXCLUSIVE_RULES:
        return written
    exclusive = [_exclusive(c) for c in written]
    leaves: set[str] = set()
    for condition in exclusive:
        _leaves(condition, leaves)
    missing = [leaf for leaf in leaves if leaf.startswith('{"$nex"')]
    if (len(leaves) > LIMITS["distinct_conditions"] or len(missing) > LIMITS["missing_tests"]
            or simultaneous_bound(exclusive) > LIMITS["simultaneous_matches"]):
        return written
    return exclusive


def _definition(plan: ActionPlan) -> dict[str, Any]:
    rules: dict[str, Any] = {}
    for i, condition in enumerate(_conditions(plan)):
        rules[f"r{i}"] = {"all": [{"m": {"$and": [GUARD, condition]}}], "run": _nothing}
    rules["sentinel"] = {
        "pri": 1_000_000,
        "all": [{"m": {"$and": [GUARD, {"$ex": {OPENS: 1}}]}}],
        "run": _nothing,
    }
    return rules


def _number(x: float) -> str:
    text = repr(x)
    if "e" in text or "E" in text:                 # 1e-05 → 0.00001
        text = format(Decimal(text), "f")
        if "." not in text:
            text += ".0"
    return text


def _encoder() -> Any:
    """JSON text of a flat dict, by the C encoder made once (``JSONEncoder.encode`` makes
    one per call); the Python one where C is missing."""
    make = json.encoder.c_make_encoder
    if make is None:                     # pragma: no cover - CPython always has it
        return json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    encode = make(None, None, json.encoder.encode_basestring, None, ":", ",", False, False,
                  True)
    return lambda fact: "".join(encode(fact, 0))


_ENCODE = _encoder()


def dumps(fact: dict[str, Any]) -> str:
    """JSON of a flat fact in the form durable_rules' parser reads (no exponents).

    >>> dumps({"x": 1e-05, "s": "ä", "n": 3})
    '{"x":0.00001,"s":"ä","n":3}'
    """
    if float not in map(type, fact.values()):
        return _ENCODE(fact)
    for v in fact.values():
        if type(v) is float and v and not 1e-4 <= abs(v) < 1e16:
            break
    else:
        return _ENCODE(fact)
    parts = []
    for key, value in fact.items():
        text = _number(value) if isinstance(value, float) else json.dumps(
            value, ensure_ascii=False)
        parts.append(f"{json.dumps(key, ensure_ascii=False)}:{text}")
    return "{" + ",".join(parts) + "}"


def _other_value(value: Any) -> Any:
    """A non-plain field's value as :func:`engine.derive.message_for` puts it in a message;
    None where it leaves the field out."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float:
        return value
    if value is None or isinstance(value, (list, dict, tuple, Table)):
        return None
    return json_value(value)


# how the writer's fast path puts a value of a field of each type (and the one Python type
# it expects there; anything else goes the general way)
_FAST = {"integer": (int, "{v#}"), "number": (int, "{v#}"), "string": (str, "{esc(v#)}"),
         "hetu": (str, "{esc(v#)}"), "boolean": (bool, "{'true' if v# else 'false'}"),
         "date": (dt.date, "{esc(v#.isoformat())}")}


def _writer(plan: ActionPlan) -> Callable[[dict[str, Any]], str | None]:
    """``write(values)``: the JSON text of ``message_for(plan, values)`` as :func:`dumps`
    writes it, generated once per plan; None for a message it does not write (a value that is
    not text, a whole number, yes/no, a date or a float written without an exponent), which
    the caller sends through ``dumps``. ``tests/engine/test_backend.py`` keeps it equal to
    ``dumps`` over the differential test's values.

    Its fast path, for a plan whose every field has a type above, writes one f-string when
    each field is present with the Python type its type gives (the usual request): the
    interpreter joins its parts in one step, where a ``%`` template is parsed on every call;
    otherwise each field is looked at in turn. The source holds only generated names: the
    field names and their JSON are passed in, as the variables of a closure (read without a
    dictionary look-up, as globals would be).
    """
    plain, other = plan.message_fields
    names = (*plain, *other)
    escape = json.encoder.encode_basestring
    env: dict[str, Any] = {"esc": escape, "int_text": int.__repr__,
                           "float_text": float.__repr__, "other_value": _other_value}
    lines = ["def general(values):", "    get = values.get", "    out = []",
             "    add = out.append"]
    for n, name in enumerate(names):
        env[f"name{n}"], env[f"key{n}"] = name, escape(name) + ":"
        lines.append(f"    v = get(name{n})")
        if n >= len(plain):
            lines.append("    v = other_value(v)")
        lines += ["    if v is not None:",
                  "        t = type(v)",
                  "        if t is str:",
                  f"            add(key{n} + esc(v))",
                  "        elif t is bool:",
                  f"            add(key{n} + ('true' if v else 'false'))",
                  "        elif t is int:",
                  f"            add(key{n} + int_text(v))",
                  "        elif t is float and (v == 0 or 1e-4 <= abs(v) < 1e16):",
                  f"            add(key{n} + float_text(v))",
                  "        else:",
                  "            return None"]
    lines.append("    return '{' + ','.join(out) + '}'")
    fast = [_FAST.get(plan.fields[name]) for name in names]
    if names and None not in fast and not set(other) - {n for n in names
                                                         if plan.fields[n] == "date"}:
        # each field's key with what comes before it: '{"a":', then ',"b":'
        parts = {f"part{n}": ("{" if n == 0 else ",") + escape(name) + ":"
                 for n, name in enumerate(names)}
        kinds = {f"type{n}": kind for n, (kind, _) in enumerate(fast)}
        closed = ["esc", "general", *env.keys() - {"esc", "int_text", "float_text",
                                                   "other_value"}, *parts, *kinds]
        env.update(parts)
        env.update(kinds)
        lines += [f"def make({', '.join(closed)}):", "    def write(values):", "        try:"]
        lines += [f"            v{n} = values[name{n}]" for n in range(len(names))]
        lines += ["        except KeyError:", "            return general(values)"]
        tests = " and ".join(f"type(v{n}) is type{n}" for n in range(len(names)))
        text = "".join(f"{{part{n}}}" + shape.replace("#", str(n))
                       for n, (_, shape) in enumerate(fast))
        lines += [f"        if {tests}:", f'            return f"{text}}}}}"',
                  "        return general(values)", "    return write"]
        exec("\n".join(lines), env)      # generated from the plan's own field list
        return env["make"](*[env[name] for name in closed])
    exec("\n".join(lines), env)          # generated from the plan's own field list
    return env["general"]


class Prepared:
    """A registered ruleset, known by its unique name, with the one session it decides in.

    The session is kept between decisions (a fresh one costs a malloc and memset per rule,
    so its cost would grow with the rules): each decision asserts its fact,
    reads the actions that fired, and retracts the fact again. Any failure drops the session,
    and the next decision starts a new one.
    """

    __slots__ = ("handle", "heads", "name", "no_floats", "plan", "sid", "write")

    def __init__(self, name: str, handle: Any, plan: ActionPlan | None = None):
        self.name, self.handle, self.plan = name, handle, plan
        self.sid: str | None = None
        self.no_floats = False
        self.write = _writer(plan) if plan is not None else None
        self.heads: tuple[str | None, list[str], str, list[int]] = (None, [], "", [])


def _heads(prepared: Prepared) -> tuple[list[str], Any]:
    """For the session now open: the start of each place's fact in a batch
    (``'{"id":"b3","sid":"s5",'``), and the JSON that retracts the first n places (a prefix
    of one text); made once per session."""
    sid, heads, every, ends = prepared.heads
    if sid != prepared.sid:
        sid = prepared.sid
        heads = [f'{{"id":"b{j}","sid":"{sid}",' for j in range(CHUNK)]
        every, ends = "[", []
        for head in heads:
            every += head[:-1] + "}"
            ends.append(len(every))
            every += ","
        prepared.heads = (sid, heads, every, ends)

    def retract(n: int) -> str:
        return every[:ends[n - 1]] + "]"
    return heads, retract


def _action_name(message: str) -> str:
    """``'{"r12": {...}}'`` → ``'r12'``: the rule an action belongs to, without parsing JSON.

    >>> _action_name('{"r12":{"m":{"a": 1}}}'), _action_name('{ "sentinel" : {}}')
    ('r12', 'sentinel')
    """
    start = message.index('"') + 1
    return message[start:message.index('"', start)]


def _drain(handle: Any, state: Any, names: list[str]) -> None:
    """Record which rule each pending action of a session belongs to.

    This is durable_rules' own action loop (``Ruleset._flush_actions``) without the Python
    closure, the session state's JSON round trip and the callbacks per fired rule: our rules
    record and do nothing else, and they never change the state.
    """
    if state is None:
        return
    for message in durable_host.fired_actions(handle, state):
        names.append(_action_name(message))


class DurableEvaluator:
    """Evaluates compiled plans on durable_rules, one long-lived session per ruleset."""

    def prepare(self, plan: ActionPlan) -> Prepared:
        """Register the plan's ruleset under a name no other load has used."""
        name = f"{plan.name}~{next(_names)}"
        with _LOCK:
            prepared = Prepared(name, durable_host.register(name, _definition(plan)), plan)
        # no field that may hold a float: a batch's messages need no look for exponents
        prepared.no_floats = all(t in _NO_FLOATS for t in plan.fields.values())
        return prepared

    def fired(self, prepared: Prepared, message: dict[str, Any]) -> list[int]:
        """Indices of the plan's rules that match ``message`` (a flat dict of scalars)."""
        body = dumps(message)
        with _LOCK:
            sid = prepared.sid
            opens = ""
            if sid is None:                # a new session: its first fact fires the sentinel
                sid = prepared.sid = f"s{next(_sids)}"
                opens = f',"{OPENS}":1'
            # the message's JSON with id and sid appended, without copying the message
            ident = f'"id":"d{next(_sids)}","sid":"{sid}"'
            fact = f'{body[:-1]}{"," if len(body) > 2 else ""}{ident}{opens}}}'

            handle = prepared.handle
            names: list[str] = []
            try:
                _drain(handle, durable_host.assert_fact(handle, fact), names)
                # the session finds the fact by its id: the rest need not be parsed again;
                # a retraction fires nothing we compile, but what waits is drained
                _drain(handle, durable_host.retract_fact(handle, f"{{{ident}}}"), [])
            except Exception as exc:     # the engine's own error codes, MemoryError, …
                self._drop_session(prepared)
                raise EvaluationError(f"rule engine failed: {exc}") from exc
        if len(names) == 1:                # the usual case: one rule fired once
            return [int(names[0][1:])] if names[0][0] == "r" else []
        # once per rule, though each true branch of an $or fires it
        return sorted({int(n[1:]) for n in names if n[0] == "r"})

    def fired_many(self, prepared: Prepared, messages: list[dict[str, Any]]) -> list[list[int]]:
        """:meth:`fired` of each message, in order: the messages asserted together in one
        session, :data:`CHUNK` per call, and retracted together."""
        # (a float the plan's types did not foresee, written with an exponent, is refused by
        # durable_rules: the batch is then decided again one message at a time, by dumps)
        return self._fired_bodies(
            prepared, list(map(_ENCODE if prepared.no_floats else dumps, messages)))

    def fired_values(self, prepared: Prepared, values: list[dict[str, Any]]) -> list[list[int]]:
        """:meth:`fired_many` of ``message_for(plan, v)`` for each of the plan's derived
        ``values``, the message JSON written straight from them (:func:`_writer`)."""
        write, plan = prepared.write, prepared.plan
        if write is None or plan is None:
            raise TypeError("fired_values needs a ruleset made by prepare(plan)")
        bodies = list(map(write, values))
        if None in bodies:
            bodies = [dumps(message_for(plan, one)) if body is None else body
                      for one, body in zip(values, bodies, strict=True)]
        return self._fired_bodies(prepared, bodies)

    def _fired_bodies(self, prepared: Prepared, bodies: list[str]) -> list[list[int]]:
        """The fired rules of each message's JSON text: each distinct text asserted once."""
        distinct, where = bodies, None
        if len(set(bodies)) < len(bodies):     # (each text's hash is then kept with it)
            places: dict[str, int] = {}
            where = [places.setdefault(body, len(places)) for body in bodies]
            distinct = list(places)
        out: list[list[int]] = []
        for start in range(0, len(distinct), CHUNK):
            out += self._fired_chunk(prepared, distinct[start:start + CHUNK])
        if where is None:
            return out
        return [list(out[p]) for p in where]    # a list of its own for each message

    def _fired_chunk(self, prepared: Prepared, bodies: list[str]) -> list[list[int]]:
        n = len(bodies)
        fired: list[list[int]] = [[] for _ in bodies]
        with _LOCK:
            if prepared.sid is None:        # a new session: its first fact fires the sentinel
                prepared.sid = f"s{next(_sids)}"
                heads, retract = _heads(prepared)
                first = f'{heads[0]}"{OPENS}":1,'
            else:
                heads, retract = _heads(prepared)
                first = heads[0]
            # each fact's id is its place ("b12"), written first: unique while the chunk is
            # in the session, and where an action's text says which fact it matched
            facts = [heads[j] + body[1:] if len(body) > 2 else heads[j][:-1] + "}"
                     for j, body in enumerate(bodies)]
            facts[0] = first + bodies[0][1:] if len(bodies[0]) > 2 else first[:-1] + "}"
            handle = prepared.handle
            try:
                state = durable_host.assert_facts(handle, f"[{','.join(facts)}]")
                # each action '{"r12":{"m":{"id":"b34",…}}}': the rule, the fact's place
                # (durable keeps a fact's fields in their order); the sentinel's
                # '{"sentinel":…' is no match
                actions = durable_host.fired_text(handle, state)
                numbers = _NUMBERS
                for rule, place in _FIRED.findall(actions):
                    fired[numbers[place]].append(numbers[rule])
                _drain(handle, durable_host.retract_facts(handle, retract(n)), [])
            except Exception as exc:     # the engine's own error codes, MemoryError, …
                self._drop_session(prepared)
                raise EvaluationError(f"rule engine failed: {exc}") from exc
        # once per rule, though each true branch of an $or fires it
        return [f if len(f) < 2 else sorted(set(f)) for f in fired]

    @staticmethod
    def _drop_session(prepared: Prepared) -> None:
        sid, prepared.sid = prepared.sid, None
        if sid is not None:
            try:
                durable_host.delete_state(prepared.handle, sid)
            except Exception:            # the session is unusable either way: drop it
                pass

    def release(self, prepared: Prepared) -> None:
        """Remove a retired ruleset from the engine (no decision may still be using it)."""
        with _LOCK:
            if prepared.name not in durable_host.registered():
                return
            self._drop_session(prepared)       # delete_ruleset leaves sessions behind (§4)
            durable_host.delete_ruleset(prepared.name)

    @staticmethod
    def registered() -> list[str]:
        """Names of the rulesets currently in the engine (for tests of reload)."""
        with _LOCK:
            return durable_host.registered()
