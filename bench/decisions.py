"""``make bench``: µs per decision, as ratios against baselines measured in the same run.

Not a test: this machine is shared and noisy, so only ratios measured side by side mean
anything. Printed:

1. the mixed workload (every fixture case that yields a decision, over all policies) through
   ``engine.decide`` on durable_rules, and through the same pipeline on the pure-Python
   evaluator (isolating what durable_rules costs);
2. the floor: the rules of three actions written as plain Python functions, against the
   engine on exactly those cases;
3. scaling: a 1000-row parameter table against a 10-row one, a generated 300-rule action
   against a 10-rule one;
4. memory: RSS before and after 20,000 decisions;
5. replay (``rehab-rules impact``): µs per logged decision read from a temporary SQLite log of
   5,000 rows of the same workload, decided again and compared, against ``decide`` alone.

Run: ``make bench`` (or ``.venv/bin/python -m bench.decisions [--seconds S]``).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.floor import FLOOR
from engine import PolicyStore, decide
from engine.fixtures import load_suite, run_case
from engine.pyeval import PythonEvaluator

ROOT = Path(__file__).resolve().parent.parent


def per_call_us(fn: Callable[[], Any], seconds: float, repeats: int = 5) -> float:
    """Median over ``repeats`` runs of the mean µs per call, each run about ``seconds``."""
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.05:
        fn()
        n += 1
    batch = max(1, int(n * seconds / 0.05 / repeats))
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        runs.append((time.perf_counter() - t0) / batch * 1e6)
    return statistics.median(runs)


def workload(store: PolicyStore) -> list[dict[str, Any]]:
    """Every fixture case that yields a decision, as keyword arguments of ``decide``."""
    cases, _ = load_suite([ROOT / "fixtures"], store.policies)
    out = []
    for case in cases:
        result = run_case(store, case)
        if result.fired is not None:
            out.append({"policy": case.policy, "action": case.action,
                        "version": case.version, "as_of": case.as_of,
                        "facts": case.facts})
    return out


def _cycle(items: list[Any], call: Callable[[Any], Any]) -> Callable[[], None]:
    state = {"i": 0}

    def one() -> None:
        call(items[state["i"] % len(items)])
        state["i"] += 1
    return one


def mixed(store: PolicyStore, work: list[dict[str, Any]],
          seconds: float) -> list[tuple[str, float]]:
    py = PythonEvaluator()
    engine_us = per_call_us(_cycle(work, lambda w: decide(store, **w)), seconds)
    python_us = per_call_us(_cycle(work, lambda w: decide(store, **w, evaluator=py)), seconds)
    noop_us = per_call_us(_cycle(work, lambda w: dict(w["facts"])), seconds)
    return [(f"mixed workload ({len(work)} cases), engine on durable_rules", engine_us),
            ("same workload, engine on the Python evaluator", python_us),
            ("same workload, no-op (copy the facts)", noop_us)]


def _key(w: dict[str, Any]) -> tuple[str, str, str]:
    return w["policy"], w["action"], w["version"]


def floor_disagreements(store: PolicyStore,
                        work: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, str]]:
    """Cases where the floor and the engine differ: ``(case, floor, engine)``.

    A floor that decides something else measures nothing; a test keeps them equal, so a
    policy change that the floor misses fails the suite, not only the next ``make bench``.
    """
    out = []
    for w in work:
        if _key(w) in FLOOR:
            got = FLOOR[_key(w)](w["facts"])
            expected = decide(store, **w).outcome
            if got != expected:
                out.append((w, got, expected))
    return out


def floor(store: PolicyStore, work: list[dict[str, Any]],
          seconds: float) -> list[tuple[str, float]]:
    work = [w for w in work if _key(w) in FLOOR]
    if not work:
        return []
    for w, got, expected in floor_disagreements(store, work):
        raise SystemExit(f"floor disagrees with the engine on {w}: {got} != {expected}")
    engine_us = per_call_us(_cycle(work, lambda w: decide(store, **w)), seconds)
    floor_us = per_call_us(_cycle(work, lambda w: FLOOR[_key(w)](w["facts"])), seconds)
    actions = ", ".join(sorted({a for _, a, _ in FLOOR}))
    return [(f"floor workload ({len(work)} cases: {actions}), engine", engine_us),
            ("same cases, hand-written plain Python (the floor)", floor_us)]


def _generated(rows: int, rules: int) -> str:
    table = "\n".join(f"    t{i}: {{limit: {i % 50}}}" for i in range(rows))
    rule_text = "\n".join(
        f"  - id: TT-{i}-gen\n    action: act\n    when: kind == \"k{i}\" and amount > limit\n"
        f"    effect: deny\n    cite: {{seed: \"000\", section: \"generated\"}}\n"
        f"    message: {{fi: \"r{i}\", sv: \"r{i}\", en: \"r{i}\"}}" for i in range(rules))
    return (f"policy: gen\nversion: \"2025-01\"\neffective_from: 2025-01-01\n"
            f"title: {{fi: G, sv: G, en: G}}\nsource: {{document: generated}}\n"
            f"parameters:\n  types:\n{table}\n"
            f"actions:\n  act:\n    facts:\n      kind: {{type: string}}\n"
            f"      row: {{type: string}}\n      amount: {{type: integer}}\n"
            f"    derive:\n      limit: lookup(types, row, \"limit\")\n"
            f"rules:\n{rule_text}\n")


def _generated_us(rows: int, rules: int, seconds: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gen" / "2025-01.yaml"
        path.parent.mkdir()
        path.write_text(_generated(rows, rules), encoding="utf-8")
        store = PolicyStore.load(tmp)
        try:
            facts = [{"kind": f"k{i % rules}", "row": f"t{(i * 7) % rows}", "amount": i % 60}
                     for i in range(101)]
            return per_call_us(_cycle(facts, lambda f: decide(
                store, policy="gen", action="act", as_of="2025-06-01", facts=f)), seconds)
        finally:
            store.close()


def scaling(seconds: float) -> list[tuple[str, float]]:
    return [("generated: 10 rules, 10-row table", _generated_us(10, 10, seconds)),
            ("generated: 10 rules, 1000-row table", _generated_us(1000, 10, seconds)),
            ("generated: 300 rules, 10-row table", _generated_us(10, 300, seconds))]


def memory(store: PolicyStore, work: list[dict[str, Any]],
           decisions: int = 20_000) -> tuple[float, float]:
    """Max RSS after a warm-up, and after ``decisions`` more (``--memory 1000000`` for the
    million-decision check: the long-lived sessions must not grow)."""
    one = _cycle(work, lambda w: decide(store, **w))
    for _ in range(2000):
        one()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for _ in range(decisions):
        one()
    return before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def replay(store: PolicyStore, work: list[dict[str, Any]], rows: int = 5000,
           ) -> tuple[float, float]:
    """µs per decision: replaying a SQLite log of ``rows`` decisions, and ``decide`` alone
    on the same decisions, measured back to back (best of 3 each)."""
    from bench.impact import seed_log
    from service.replay import run_impact

    with tempfile.TemporaryDirectory() as tmp:
        log = seed_log(f"sqlite:///{Path(tmp) / 'log.db'}", store, work, rows)
        policies = sorted({w["policy"] for w in work})
        counts = {p: log.count(policy=p) for p in policies}
        replay_s, decide_s = [], []
        items = [work[i % len(work)] for i in range(rows)]
        for _ in range(3):
            t0 = time.perf_counter()
            for p in policies:
                report = run_impact(log, store, p)
                assert report["replayed"] == report["unchanged"] == counts[p], report
            replay_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for w in items:
                decide(store, **w)
            decide_s.append(time.perf_counter() - t0)
        log.engine.dispose()
    return min(replay_s) / rows * 1e6, min(decide_s) / rows * 1e6


def _print_memory(before: float, after: float, decisions: int) -> None:
    print(f"  max RSS {before:.1f} MiB → {after:.1f} MiB over {decisions:,} decisions "
          f"(+{after - before:.1f} MiB, {(after / before - 1) * 100:+.1f} %)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--memory", type=int, default=20_000, metavar="N",
                        help="decisions for the memory check (1000000 takes a few minutes)")
    parser.add_argument("--only-memory", action="store_true", help="run the memory check only")
    args = parser.parse_args(argv)
    store = PolicyStore.load(ROOT / "policies")
    work = workload(store)
    if not work:
        raise SystemExit("no fixture case yields a decision: nothing to measure")
    if args.only_memory:
        _print_memory(*memory(store, work, args.memory), args.memory)
        store.close()
        return
    print(f"python {sys.version.split()[0]}; {args.seconds:g} s per measurement, median of 5")
    rows = mixed(store, work, args.seconds)
    for label, us in rows:
        print(f"  {us:9.1f} µs  {label}")
    print(f"  ratio engine / Python evaluator: {rows[0][1] / rows[1][1]:.2f}; "
          f"engine / no-op: {rows[0][1] / rows[2][1]:.0f}")
    rows = floor(store, work, args.seconds)
    for label, us in rows:
        print(f"  {us:9.1f} µs  {label}")
    if rows:
        print(f"  ratio engine / plain-Python floor: {rows[0][1] / rows[1][1]:.1f}")
    rows = scaling(args.seconds)
    for label, us in rows:
        print(f"  {us:9.1f} µs  {label}")
    base = rows[0][1]
    print(f"  ratio 1000-row / 10-row table: {rows[1][1] / base:.2f}; "
          f"300 rules / 10 rules: {rows[2][1] / base:.2f}")
    _print_memory(*memory(store, work, args.memory), args.memory)
    replay_us, decide_us = replay(store, work)
    print(f"  {replay_us:9.1f} µs  replay: read from a SQLite log, decide again, compare")
    print(f"  {decide_us:9.1f} µs  the same decisions through decide alone")
    print(f"  ratio replay / decide: {replay_us / decide_us:.2f} (target ≤ 1.30)")
    store.close()


if __name__ == "__main__":
    main()
