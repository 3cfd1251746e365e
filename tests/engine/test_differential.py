"""durable_rules against the pure-Python evaluator, on the same compiled conditions.

durable_rules has been seen to drop matches silently, so every action of every policy version
is run through both on thousands of generated messages (about 2,000 per action): values drawn
around the constants its conditions use (the day before, on and after a date; the number
below, at and above a limit), plus arbitrary values and missing fields. Any disagreement is a
bug. The fixture runner (tests/test_fixture_cases.py) does the same on every fixture case.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from engine import PolicyStore
from engine.backend import DurableEvaluator
from engine.model import ActionPlan
from engine.pyeval import PythonEvaluator
from tests.conftest import POLICIES, write_policy

BATCH = 50
EXAMPLES = 40            # × BATCH = 2,000 generated messages per action


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


def _value(kind: str, consts: set) -> st.SearchStrategy:
    near = _near(kind, consts)
    if kind == "integer":
        base = st.integers(-3, 200)
    elif kind == "number":
        base = st.one_of(st.integers(-3, 200), st.floats(-5, 200, allow_nan=False))
    elif kind == "date":
        base = st.dates(dt.date(2010, 1, 1), dt.date(2035, 12, 31)).map(dt.date.isoformat)
    elif kind == "boolean":
        return st.booleans()
    elif kind == "any":                      # values from planners' tables: dates or numbers
        base = st.one_of(st.dates(dt.date(2010, 1, 1), dt.date(2035, 12, 31)).map(
            dt.date.isoformat), st.integers(-3, 200))
    else:
        base = st.text("abcxyzäö-_ \"\\\\\n/€", max_size=4)
    return st.one_of(st.sampled_from(near), base) if near else base


def _message(plan: ActionPlan) -> st.SearchStrategy:
    consts = _constants(plan)
    fields = {}
    for name, kind in _kinds(plan).items():
        value = _value(kind, consts.get(name, set()))
        fields[name] = value if name == "as_of" else st.one_of(st.none(), value, value, value)
    return st.fixed_dictionaries(fields).map(
        lambda m: {k: v for k, v in m.items() if v is not None})


@pytest.mark.parametrize("plan", [p for _, p in PLANS], ids=[n for n, _ in PLANS])
def test_durable_and_python_agree(plan: ActionPlan) -> None:
    durable, python = DurableEvaluator(), PythonEvaluator()
    handle = durable.prepare(plan)

    # no shrinking: the assertion already names the one message the evaluators disagree on
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(st.lists(_message(plan), min_size=BATCH, max_size=BATCH))
    def check(messages: list[dict[str, Any]]) -> None:
        for message in messages:
            got, want = durable.fired(handle, message), python.fired(plan, message)
            assert got == want, f"durable fired {got}, Python {want} on {message}"

    try:
        check()
    finally:
        durable.release(handle)


def test_every_policy_action_is_in_the_differential_run():
    names = {n.split("#")[0] for n, _ in PLANS}
    on_disk = {f"{p.parent.name}@{p.stem}" for p in POLICIES.glob("*/*.yaml")}
    assert on_disk <= names


# -- the same, one level up: generated fact sets through the whole decide() -------------

def _fact_value(spec: Any, consts: set) -> st.SearchStrategy:
    """Values a provider could send for one declared fact, near the policy's constants."""
    if spec.one_of is not None:
        return st.sampled_from(list(spec.one_of))
    if spec.type == "list":
        item = _fact_value(type(spec)(spec.name, spec.items or "string"), consts)
        return st.lists(item, max_size=4)
    if spec.type == "hetu":
        return st.sampled_from(["131052-308T", "010594Y9021", "131052-308U", "x"])
    kind = spec.type
    strategy = _value(kind, consts)
    if kind in ("integer", "number") and (spec.min is not None or spec.max is not None):
        lo = spec.min if spec.min is not None else -10**6
        hi = spec.max if spec.max is not None else 10**6
        bounded = (st.integers(int(lo), int(hi)) if kind == "integer"
                   else st.floats(lo, hi, allow_nan=False))
        # clamped into the declared range, so the limits themselves are drawn often
        strategy = st.one_of(strategy.map(lambda v: min(max(v, lo), hi)), bounded)
    return strategy


def _facts(plan: ActionPlan, table_keys: set) -> st.SearchStrategy:
    consts = _constants(plan)
    fields = {}
    for name, spec in plan.action.facts.items():
        near = consts.get(name, set()) | (table_keys if spec.type == "string" else set())
        value = _fact_value(spec, near)
        fields[name] = value if spec.required else st.one_of(st.none(), value)
    return st.fixed_dictionaries(fields).map(
        lambda f: {k: v for k, v in f.items() if v is not None})


def _stores() -> list[tuple[str, Any, str, str, str]]:
    out = []
    if POLICIES.is_dir() and any(POLICIES.glob("*/*.yaml")):
        store = PolicyStore.load(POLICIES)
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

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(st.lists(_facts(plan, keys), min_size=BATCH, max_size=BATCH))
    def check(fact_sets: list[dict[str, Any]]) -> None:
        for facts in fact_sets:
            outcomes = []
            for evaluator in (None, python):
                try:
                    d = decide(store, policy=policy, action=action, as_of=day, facts=facts,
                               evaluator=evaluator)
                    outcomes.append(("decision", d.fired, d.outcome))
                except EngineError as exc:
                    outcomes.append(("refused", exc.code, str(exc.details)))
            assert outcomes[0] == outcomes[1], f"{outcomes} on {facts}"

    check()
