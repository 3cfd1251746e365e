"""durable_rules against the pure-Python evaluator, on the same compiled conditions.

durable_rules has been seen to drop matches silently, so every action of every policy version
is run through both on thousands of generated messages (2,000 per action): values drawn
around the constants its conditions use (the day before, on and after a date; the number
below, at and above a limit), plus arbitrary values and missing fields. Any disagreement is a
bug. The fixture runner (tests/test_fixture_cases.py) does the same on every fixture case.

The inputs come from a seeded ``random.Random`` (``REHAB_RULES_DIFF_SEED`` picks another seed,
``REHAB_RULES_DIFF_INPUTS`` another count per action): the same inputs every run, so a
failure repeats, and generated in a fraction of the time Hypothesis took to draw them (its
shrinking was off anyway: the assertion names the one message the evaluators disagree on).
``make test`` runs the 2,000 per action; ``make test-fast`` passes 300, a quick lane (the
first 300 of the same inputs); a deeper run sets a larger count. Whether the generator
reaches the rules is always judged on at least 2,000.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path
from typing import Any

import pytest

from engine import PolicyStore
from engine.backend import DurableEvaluator
from engine.model import ActionPlan
from engine.pyeval import PythonEvaluator
from tests.conftest import POLICIES, shared_real_store, write_policy

SEED = int(os.environ.get("REHAB_RULES_DIFF_SEED", "20261205"))
INPUTS = int(os.environ.get("REHAB_RULES_DIFF_INPUTS", "2000"))     # per action
REACH_INPUTS = max(INPUTS, 2000)      # the generator's reach is judged on the full count


def _plans() -> list[tuple[str, ActionPlan]]:
    import tempfile

    out = []
    store = PolicyStore(POLICIES, evaluator=PythonEvaluator())
    if POLICIES.is_dir() and any(POLICIES.glob("*/*.yaml")):
        store.reload()
        for (policy, version), plans in sorted(store.current.plans.items()):
            out += [(f"{policy}@{version}#{a}", p) for a, p in sorted(plans.items())]
    demo = PolicyStore(write_policy(Path(tempfile.mkdtemp())).parent.parent,
                       evaluator=PythonEvaluator())
    demo.reload()
    out += [(f"demo#{a}", p) for a, p in demo.current.plans[("demo", "2024-01")].items()]
    return out


PLANS = _plans()


def _leaves(plan: ActionPlan) -> list[tuple[str, str, Any]]:
    """(operator, field, operand) of every comparison in the plan's conditions."""
    out: list[tuple[str, str, Any]] = []

    def walk(cond: dict[str, Any]) -> None:
        (op, arg), = cond.items()
        if op in ("$and", "$or"):
            for c in arg:
                walk(c)
        else:
            (field, value), = arg.items()
            out.append((op, field, value))

    for r in plan.rules:
        walk(r.condition)
    return out


def _links(plan: ActionPlan) -> list[tuple[str, str]]:
    return [(f, v["$m"]) for _, f, v in _leaves(plan) if isinstance(v, dict)]


def _kinds(plan: ActionPlan) -> dict[str, str]:
    """Field types; an untyped table value takes the type of the field it is compared with."""
    kinds = dict(plan.fields)
    for a, b in _links(plan):
        if kinds.get(a) == "any" and kinds.get(b) not in (None, "any"):
            kinds[a] = kinds[b]
        if kinds.get(b) == "any" and kinds.get(a) not in (None, "any"):
            kinds[b] = kinds[a]
    return kinds


def _constants(plan: ActionPlan) -> dict[str, set]:
    consts: dict[str, set] = {f: set() for f in plan.fields}
    for op, field, value in _leaves(plan):
        if not isinstance(value, dict) and op not in ("$ex", "$nex"):
            consts.setdefault(field, set()).add(value)
    for a, b in _links(plan):                # compared fields share their constants
        both = consts.get(a, set()) | consts.get(b, set())
        consts[a] = consts[b] = both
    return consts


def _near(kind: str, values: set) -> list:
    out = []
    for v in values:
        if kind == "date" and isinstance(v, str):
            d = dt.date.fromisoformat(v)
            out += [(d + dt.timedelta(days=k)).isoformat() for k in (-1, 0, 1)]
        elif kind in ("integer", "number") and isinstance(v, (int, float)) \
                and not isinstance(v, bool):
            out += [v - 1, v, v + 1] + ([v - 0.5, v + 0.5] if kind == "number" else [])
        else:
            out.append(v)
    return [v for v in out if not (kind == "integer" and isinstance(v, float))]


_TEXT = "abcxyzäö-_ \"\\\n/€"
_FIRST, _LAST = dt.date(2010, 1, 1).toordinal(), dt.date(2035, 12, 31).toordinal()


def _date(rng: random.Random) -> str:
    return dt.date.fromordinal(rng.randint(_FIRST, _LAST)).isoformat()


def _value(kind: str, consts: set, rng: random.Random) -> Any:
    """One value of ``kind``: half the time near one of the constants, else arbitrary."""
    near = _near(kind, consts)
    if kind == "boolean":
        return rng.random() < 0.5
    if near and rng.random() < 0.5:
        return rng.choice(near)
    if kind == "integer":
        return rng.randint(-3, 200)
    if kind == "number":
        return rng.randint(-3, 200) if rng.random() < 0.5 else rng.uniform(-5, 200)
    if kind == "date":
        return _date(rng)
    if kind == "any":                        # values from planners' tables: dates or numbers
        return _date(rng) if rng.random() < 0.5 else rng.randint(-3, 200)
    return "".join(rng.choice(_TEXT) for _ in range(rng.randint(0, 4)))


def _messages(plan: ActionPlan, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Messages of the plan's fields; each field but as_of is missing a quarter of the time."""
    consts, kinds = _constants(plan), sorted(_kinds(plan).items())
    out = []
    for _ in range(count):
        message = {}
        for name, kind in kinds:
            if name == "as_of" or rng.random() >= 0.25:
                message[name] = _value(kind, consts.get(name, set()), rng)
        out.append(message)
    return out


@pytest.mark.parametrize("plan", [p for _, p in PLANS], ids=[n for n, _ in PLANS])
def test_durable_and_python_agree(plan: ActionPlan) -> None:
    durable, python = DurableEvaluator(), PythonEvaluator()
    handle = durable.prepare(plan)
    rng = random.Random(f"{SEED}:{plan.name}")
    try:
        for message in _messages(plan, INPUTS, rng):
            got, want = durable.fired(handle, message), python.fired(plan, message)
            assert got == want, f"durable fired {got}, Python {want} on {message}"
    finally:
        durable.release(handle)


def test_every_policy_action_is_in_the_differential_run():
    names = {n.split("#")[0] for n, _ in PLANS}
    on_disk = {f"{p.parent.name}@{p.stem}" for p in POLICIES.glob("*/*.yaml")}
    assert on_disk <= names


# -- the same, one level up: generated fact sets through the whole decide() -------------

def _fact_value(spec: Any, consts: set, rng: random.Random) -> Any:
    """A value a provider could send for one declared fact, near the policy's constants."""
    if spec.one_of is not None:
        return rng.choice(list(spec.one_of))
    if spec.type == "list":
        item = type(spec)(spec.name, spec.items or "string")
        return [_fact_value(item, consts, rng) for _ in range(rng.randint(0, 4))]
    if spec.type == "hetu":
        return rng.choice(["131052-308T", "010594Y9021", "131052-308U", "x"])
    value = _value(spec.type, consts, rng)
    if spec.type in ("integer", "number") and (spec.min is not None or spec.max is not None):
        lo = spec.min if spec.min is not None else -10**6
        hi = spec.max if spec.max is not None else 10**6
        if rng.random() < 0.5:               # clamped into the range: the limits come often
            return min(max(value, lo), hi)
        return rng.randint(int(lo), int(hi)) if spec.type == "integer" else rng.uniform(lo, hi)
    return value


def _fact_sets(plan: ActionPlan, table_keys: set, count: int,
               rng: random.Random) -> list[dict[str, Any]]:
    consts, specs = _constants(plan), sorted(plan.action.facts.items())
    out = []
    for _ in range(count):
        facts = {}
        for name, spec in specs:
            if spec.required or rng.random() < 0.5:
                near = consts.get(name, set()) | (table_keys if spec.type == "string" else set())
                facts[name] = _fact_value(spec, near, rng)
        out.append(facts)
    return out


def _stores() -> list[tuple[str, Any, str, str, str]]:
    out = []
    if POLICIES.is_dir() and any(POLICIES.glob("*/*.yaml")):
        store = shared_real_store()
        for name, policy in sorted(store.policies.items()):
            for version in policy.versions:
                for action in sorted(version.actions):
                    out.append((f"{name}@{version.version}#{action}", store, name,
                                version.version, action))
    return out


FACT_CASES = _stores()


@pytest.mark.parametrize("case", FACT_CASES, ids=[c[0] for c in FACT_CASES])
def test_decide_agrees_on_generated_facts(case) -> None:
    from engine import EngineError, decide

    _, store, policy, version_name, action = case
    version = store.get_version(policy, version_name)
    plan = store.current.plans[(policy, version_name)][action]
    keys = {str(k) for v in version.parameters.values() if isinstance(v, dict) for k in v}
    day = version.effective_from.isoformat()
    python = PythonEvaluator()
    rng = random.Random(f"{SEED}:{case[0]}")
    for facts in _fact_sets(plan, keys, INPUTS, rng):
        outcomes = []
        for evaluator in (None, python):
            try:
                d = decide(store, policy=policy, action=action, as_of=day, facts=facts,
                           evaluator=evaluator)
                outcomes.append(("decision", d.fired, d.outcome))
            except EngineError as exc:
                outcomes.append(("refused", exc.code, str(exc.details)))
        assert outcomes[0] == outcomes[1], f"{outcomes} on {facts}"


def test_the_generated_messages_reach_almost_every_rule():
    """The generator is only as good as the rules its messages make fire: at least 95 % of
    all compiled rules fire on some generated message (today 262 of 264)."""
    python = PythonEvaluator()
    fired = total = 0
    for _, plan in PLANS:
        seen: set[int] = set()
        for message in _messages(plan, REACH_INPUTS, random.Random(f"{SEED}:{plan.name}")):
            seen.update(python.fired(plan, message))
        fired, total = fired + len(seen), total + len(plan.rules)
    assert fired >= 0.95 * total, f"only {fired} of {total} rules fire on generated messages"
