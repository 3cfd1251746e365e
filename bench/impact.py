"""``make bench-impact``: the impact of a draft over a large decision log, SQLite or PostgreSQL.

Seeds a log with ``--rows`` (default 100,000) decisions made from the fixture cases of
course-registration 2024-01, each case also moved by whole months (``--spread`` variants a
case, its event date and every date among its facts moved alike: a year of event dates, so
that nothing a replay memoises per day or per case is flattered by a log of a few dozen
distinct requests), logged as the service logs them. Then replays the log under the 2027-01
overlay (tests/scenarios/course-registration-2027) as a draft, pinned to 2027-01, as
``rehab-rules impact`` does, once with one job and once with ``--jobs`` (default: the cores)
worker processes, and decides the same decisions through ``decide`` alone (one call each).

Each of the three runs in a process of its own, started alike, so that its CPU time and its
peak memory are its own: printed are the seconds, µs per decision (wall and CPU, the
workers' CPU included), rows per second, the peak resident memory of the replay's processes
(and before the replay started: flat in ``--rows`` is the goal), and the ratios impact /
decide of the same run — what reading the log and comparing add, or save.

A process's speed moves by 10–15 % with nothing changed (its hash seed, where its memory
lies), as much as a ratio's margin, so each of the three is run ``--reps`` times (default
3) in rounds, one of each per round: printed are the medians (each process's own figures
beside them) and the ratios of the medians, with each round's ratios as well.

``--database-url postgresql+psycopg://…`` seeds a schema of its own in that database
(``bench_impact_<pid>``, dropped at the end), not the tables the tests use.

Also :func:`seed_log`, which ``make bench`` uses for its smaller replay measurement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import multiprocessing
import os
import re
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from itertools import cycle, islice
from pathlib import Path
from typing import Any

from bench.targets import verdict
from engine import PolicyStore, decide
from engine.errors import EngineError
from engine.fixtures import load_suite, run_case
from engine.model import FINDING_KINDS
from service.database import make_engine, upgrade
from service.decision_log import DecisionLog, LogEntry
from service.ids import new_decision_id
from service.masking import Masker
from service.replay import draft_files, draft_store, run_impact

ROOT = Path(__file__).resolve().parent.parent
OVERLAY = (ROOT / "tests" / "scenarios" / "course-registration-2027" / "policies"
           / "course-registration" / "2027-01.yaml")
POLICY, DRAFT_VERSION = "course-registration", "2027-01"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# impact / decide by wall clock, by the number of jobs (two: on this 2-core machine)
TARGETS = {1: 1.3, 2: 0.75}


def cases_of(store: PolicyStore, policy: str | None = None,
             version: str | None = None) -> list[dict[str, Any]]:
    """Fixture cases that yield a decision, as ``decide`` keyword arguments (pinned)."""
    cases, _ = load_suite([ROOT / "fixtures"], store.policies)
    out = []
    for case in cases:
        if (policy and case.policy != policy) or (version and case.version != version):
            continue
        if run_case(store, case).fired is not None:
            out.append({"policy": case.policy, "action": case.action, "version": case.version,
                        "as_of": case.as_of, "facts": case.facts, "lang": case.lang})
    return out


def _moved(value: Any, days: int) -> Any:
    """``value`` with every ISO date in it ``days`` later."""
    if isinstance(value, dt.date):
        return value + dt.timedelta(days=days)
    if isinstance(value, str) and _DAY.match(value):
        try:
            return (dt.date.fromisoformat(value) + dt.timedelta(days=days)).isoformat()
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _moved(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [_moved(v, days) for v in value]
    return value


def spread(work: list[dict[str, Any]], variants: int) -> list[dict[str, Any]]:
    """Each case as itself and moved by 1 … ``variants`` - 1 months of 30 days: event date
    and dates among the facts alike, so the case keeps its meaning."""
    return [{**w, "as_of": _moved(w["as_of"], 30 * k), "facts": _moved(w["facts"], 30 * k)}
            for k in range(variants) for w in work]


def seed_log(url: str, store: PolicyStore, work: list[dict[str, Any]], rows: int,
             pinned: bool = True) -> DecisionLog:
    """``rows`` decisions cycling through ``work`` (those the store decides), logged as the
    service logs them (personal codes hashed, their checks beside them, the JSON texts the
    masker wrote), in bulk: one transaction per 5,000 rows."""
    upgrade(url)
    engine = make_engine(url)
    masker = Masker(b"bench")
    made = []
    for w in work:
        try:
            d = decide(store, **({**w} if pinned else {k: v for k, v in w.items()
                                                       if k != "version"}))
        except EngineError:
            continue
        answer = d.to_dict()
        masked = masker.mask_decision(w["facts"], d.personal_facts, answer["results"],
                                      {k: answer[k] for k in FINDING_KINDS})
        made.append({
            "provider": "1234567-1", "token_id": "bench", "policy": d.policy,
            "version": d.version, "digest": d.digest, "action": d.action, "as_of": d.as_of,
            "lang": d.lang, "facts": masked.facts, "outcome": d.outcome,
            "fired": list(d.fired), "results": masked.results, "findings": masked.findings,
            "latency_ms": 0.1, "bundle_id": None, "pinned": d.pinned,
            "hetu_checks": masked.hetu_checks, "texts": masked.texts})
    now = dt.datetime.now(dt.UTC)
    log = DecisionLog(engine)
    source = islice(cycle(made), rows)
    while True:
        chunk = [LogEntry(**row, id=new_decision_id(), time=now)
                 for row in islice(source, 5000)]
        if not chunk:
            break
        log.record_many(chunk)
    # the planner's statistics, as a live log has them (autovacuum's ANALYZE): without them
    # PostgreSQL takes a freshly loaded million rows for a thousand, and sorts what its
    # index hands over in order
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE decisions")
    if engine.dialect.name == "sqlite":
        # and its WAL written back into the database and cut to nothing, as a live log's
        # checkpoints would long have done: seeded in bulk, the WAL is left as large as the
        # database, and the replay would read a million rows through it
        # (the log's own checkpointer thread may be copying it still: then it is busy)
        for _ in range(240):
            with engine.connect() as conn:
                busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            if not busy:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError("the seeded log's WAL could not be checkpointed in two "
                               "minutes: a reader or writer holds it")
    return log


# -- each measurement in a process of its own --------------------------------------------------

def _usage() -> tuple[float, float, int, int]:
    """CPU seconds of this process and of its waited-for children, and the peak resident
    memory (bytes) of this process and of the largest child."""
    me, children = (resource.getrusage(resource.RUSAGE_SELF),
                    resource.getrusage(resource.RUSAGE_CHILDREN))
    return (me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime,
            me.ru_maxrss * 1024, children.ru_maxrss * 1024)


def _rss() -> int:
    """This process's resident memory now, bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _measure(task: str, url: str, folder: str, jobs: int, work: list[dict[str, Any]],
             rows: int, out: Any) -> None:
    """One measurement (``task``: "impact" or "decide"), its figures sent to ``out``."""
    from engine.folder import read_folder

    files, problems = read_folder(Path(folder))
    assert not problems, problems
    store = draft_store(draft_files(files, {}, label=folder), POLICY)
    gc.freeze()                       # as rehab-rules impact does before replaying
    try:
        before = _rss()
        cpu0, cpu_children0, _, _ = _usage()
        t0 = time.perf_counter()
        report = None
        if task == "impact":
            report = run_impact(DecisionLog(make_engine(url)), store, POLICY,
                                version=DRAFT_VERSION, jobs=jobs)
        else:
            items: Iterator[dict[str, Any]] = islice(cycle(work), rows)
            for w in items:
                decide(store, **{**w, "version": DRAFT_VERSION})
        seconds = time.perf_counter() - t0
        cpu, cpu_children, peak, peak_child = _usage()
    finally:
        store.close()
    out.send({"report": report, "seconds": seconds, "before": before, "peak": peak,
              "peak_child": peak_child,
              "cpu": cpu - cpu0 + cpu_children - cpu_children0})


def _in_process(task: str, url: str, folder: Path, jobs: int, work: list[dict[str, Any]],
                rows: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_measure,
                              args=(task, url, str(folder), jobs, work, rows, send))
    process.start()
    try:
        send.close()
        return receive.recv()
    finally:
        process.join()


# -- where the log is --------------------------------------------------------------------------

def _postgres_schema(url: str) -> tuple[str, str]:
    """A schema of this run's own in the database of ``url``, made now; the URL that works
    in it (its ``search_path``) and the schema's name."""
    from sqlalchemy import text

    schema = f"bench_impact_{os.getpid()}"
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    finally:
        engine.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", schema


def _drop_schema(url: str, schema: str) -> None:
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="logged decisions")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes of the second replay (the first has one job); "
                             "default: the cores")
    parser.add_argument("--spread", type=int, default=12,
                        help="variants of each fixture case, a month apart")
    parser.add_argument("--database-url", help="the log's database (default: a temporary "
                        "SQLite file); PostgreSQL gets a schema of its own, dropped after")
    parser.add_argument("--reps", type=int, default=3,
                        help="processes of each measurement, one of each per round; the "
                             "medians are reported (default 3)")
    args = parser.parse_args(argv)
    running = PolicyStore.load(ROOT / "policies")
    cases = cases_of(running, POLICY, "2024-01")
    work = spread(cases, args.spread)
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        schema = None
        if args.database_url:
            url, schema = _postgres_schema(args.database_url)
            where = f"PostgreSQL (schema {schema})"
        else:
            url, where = f"sqlite:///{Path(tmp) / 'log.db'}", "SQLite"
        try:
            t0 = time.perf_counter()
            seed_log(url, running, work, args.rows).engine.dispose()
            seeded = time.perf_counter() - t0
            running.close()
            folder = Path(tmp) / "draft"
            shutil.copytree(ROOT / "policies", folder)
            shutil.copy(OVERLAY, folder / POLICY)
            for _ in range(max(args.reps, 1)):           # rounds: one of each, in turn
                for name, task, jobs in (("decide alone", "decide", 1),
                                         ("impact, 1 job", "impact", 1),
                                         (f"impact, {args.jobs} jobs", "impact", args.jobs)):
                    runs.setdefault(name, []).append(
                        _in_process(task, url, folder, jobs, work, args.rows))
        finally:
            if schema is not None:
                _drop_schema(args.database_url, schema)
    reports = [f["report"] for each in runs.values() for f in each
               if f["report"] is not None]
    assert all(r == reports[0] for r in reports), "the report depends on the number of jobs"
    report = reports[0]
    changed = report["changed"]
    rows = args.rows
    print(f"seeded {rows:,} decisions ({len(cases)} fixture cases of {POLICY} 2024-01 × "
          f"{args.spread} months of event dates) into {where} in {seeded:.1f} s")
    print(f"impact of the 2027-01 overlay (pinned): {report['replayed']:,} replayed, "
          f"{changed['allow_to_deny']:,} allow→deny, {changed['deny_to_allow']:,} deny→allow, "
          f"{changed['other']:,} other, {report['not_replayable']['count']} not replayable "
          "(the same report with every number of jobs)")
    targets = {"impact, 1 job": TARGETS[1]}
    if args.jobs in TARGETS:
        targets[f"impact, {args.jobs} jobs"] = TARGETS[args.jobs]
    for line in figure_lines(runs, rows, targets):
        print(line)


def figure_lines(runs: dict[str, list[dict[str, Any]]], rows: int,
                 targets: dict[str, float] | None = None) -> list[str]:
    """A line per measurement (the first: ``decide`` alone) of the medians of its processes'
    figures, the ratios impact / decide of the medians (three decimals, and whether the
    wall-clock ratio meets ``targets``, a bound per measurement's name), and each process's
    own µs; with more than one round, a line of each round's ratios."""
    mb = 1024 * 1024
    median = {name: {k: statistics.median(f[k] for f in each) for k in ("seconds", "cpu")}
              for name, each in runs.items()}
    alone = next(iter(runs))
    lines = []
    for name, each in runs.items():
        f, reps = median[name], len(each)
        line = (f"{name}: {f['seconds']:.1f} s, {f['seconds'] / rows * 1e6:.1f} µs per "
                f"decision ({f['cpu'] / rows * 1e6:.1f} µs CPU), {rows / f['seconds']:,.0f} "
                f"rows per second; peak memory {max(x['peak'] for x in each) / mb:.0f} MB"
                + (f", workers {max(x['peak_child'] for x in each) / mb:.0f} MB each at most"
                   if any(x["peak_child"] for x in each) else "")
                + f" ({max(x['before'] for x in each) / mb:.0f} MB before)")
        if name != alone:
            ratio = f["seconds"] / median[alone]["seconds"]
            line += (f"; impact / decide: {ratio:.3f} "
                     f"(CPU {f['cpu'] / median[alone]['cpu']:.3f})")
            if targets and name in targets:
                line += f", {verdict(ratio, targets[name])}"
        if reps > 1:
            line += (f"; median of {reps} processes: " + ", ".join(
                f"{x['seconds'] / rows * 1e6:.1f}" for x in each) + " µs (CPU " + ", ".join(
                f"{x['cpu'] / rows * 1e6:.1f}" for x in each) + ")")
        lines.append(line)
    rounds = len(runs[alone])
    if rounds > 1:
        lines.append("impact / decide in each round: " + "; ".join(
            f"{name} " + ", ".join(
                f"{x['seconds'] / a['seconds']:.2f} (CPU {x['cpu'] / a['cpu']:.2f})"
                for x, a in zip(each, runs[alone], strict=True))
            for name, each in runs.items() if name != alone))
    return lines


if __name__ == "__main__":
    main()
