"""``make bench-http``: the decision endpoint against a no-op endpoint, over real HTTP.

Starts gunicorn (sync workers, as many as ``rehab-rules serve`` starts: two per core) on a
free loopback port with a fresh SQLite decision log (``--database-url`` for a fresh schema
in PostgreSQL), creates a provider token, and loads ``GET /v1/health``,
``POST /v1/decisions`` and ``POST /v1/decisions/batch`` (a month of rehabilitation days of
five customers, a hundred different decisions: :func:`batch_bodies`) in turn at 16
connections with wrk (installed with apt-get if missing and possible)
or else a bounded Python load generator. It prints req/s, p50 and p99 of each and three
ratios, each against a baseline measured in the same run (issue 12),
with every decision logged before it is answered:

- closed loop (wrk: each connection sends its next request when the last is answered, which
  saturates both cores and measures queueing more than the service): decision req/s / no-op
  req/s (reported; the 0.6 target was withdrawn in issue 22) and p99 against p99;
- the time per decision in a batch (elapsed / decisions) / the time per single request, both
  at the same concurrency, target ≤ 0.1; and the same ratio by the workers' CPU seconds per
  decision logged (``/proc``; the database server's own CPU is not in it), which the other
  work of a shared machine disturbs far less than the wall clock;
- **open loop** (issue 22): requests sent on a schedule at half the closed-loop decision
  capacity, latency measured from when each was due (:func:`bench._load.open_loop_run`),
  in ``--rounds`` runs per endpoint that alternate the two, each endpoint's latencies pooled;
  decision p99 / no-op p99 at the same rate, target ≤ 2. The sender wakes on a timer at
  each due time and says how late it was: on a machine too busy to send on time, the tail
  is partly the machine's. (Run at real-time priority it took the cores from the workers
  whenever it woke, a worker holding the SQLite log's lock among them: the decisions'
  queue then never drained — so it runs as any process.) Beside it, the p50
  and p99 of a one-row commit on the same database alone (:func:`commit_floor`): the least
  a logged decision waits, which the no-op never does.

This is a measurement, not a test: it never fails on the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench._load import OpenRun, Result, Target, open_loop_run, pooled, python_load, wrk_load
from bench.targets import verdict

ROOT = Path(__file__).resolve().parents[1]
BATCH = 100         # decisions per batch request

TINY_POLICY = """\
policy: tiny
version: "2025-01"
effective_from: 2025-01-01
title: {fi: Pieni, sv: Liten, en: Tiny}
source: {document: Bench}
parameters:
  min_hours: 6
actions:
  day:
    title: {fi: Päivä, sv: Dag, en: Day}
    facts:
      hours: {type: number, min: 0, max: 24}
rules:
  - id: TS-1-too-short
    action: day
    when: hours < min_hours
    effect: deny
    cite: {seed: "000", section: "1"}
    message: {fi: "Liian lyhyt", sv: "För kort", en: "Too short"}
"""


def _listener() -> socket.socket:
    """A socket listening on a free loopback port, handed to gunicorn (``fd://``), so that
    no other process can take the port between choosing it and binding it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


def _workload(work: Path) -> tuple[Path, dict]:
    """The real työkokeilu policy when it exists, else a one-rule policy of our own."""
    real = ROOT / "policies" / "tyokokeilu-tyohonvalmennus"
    if real.is_dir():
        return ROOT / "policies", {
            "policy": "tyokokeilu-tyohonvalmennus", "action": "rehab_day",
            "as_of": "2025-05-12",
            "facts": {"service": "tyokokeilu", "hours_total": 7, "hours_at_workplace": 6,
                      "longer_day_goal": True}}
    (work / "policies" / "tiny").mkdir(parents=True)
    (work / "policies" / "tiny" / "2025-01.yaml").write_text(TINY_POLICY, encoding="utf-8")
    return work / "policies", {"policy": "tiny", "action": "day", "as_of": "2025-03-10",
                               "facts": {"hours": 7}}


def batch_bodies(body: dict, size: int = BATCH) -> list[dict]:
    """``size`` different decisions like ``body``, as a provider's month would send them.

    ``decide_many`` asserts each distinct message once (identical requests share the rules
    they fired), so a batch of copies of one body would measure that sharing, not a batch:
    here five customers each send their working days, each day with its own date and the
    days used before it (the customers started six working days apart, all within
    työkokeilu's 45 days), the hours of a customer's usual day and, every few days, a
    shorter or a sick day. Every request differs from every other: the worst case for the
    sharing, and a month of one policy's days as a provider sends it.

    >>> days = batch_bodies({"policy": "p", "action": "a", "as_of": "2025-05-12",
    ...                      "facts": {"hours_total": 7, "hours_at_workplace": 6}}, 100)
    >>> len(days), len({json.dumps(d, sort_keys=True) for d in days})
    (100, 100)
    """
    facts = body["facts"]
    if "hours_total" not in facts:                  # the one-rule policy of our own
        return [{**body, "facts": {"hours": round(4 + i * 0.04, 2)}} for i in range(size)]
    start = dt.date.fromisoformat(body["as_of"]).replace(day=1)
    workdays = [d for d in (start + dt.timedelta(days=i) for i in range(62)) if d.weekday() < 5]
    usual = [(7, 6, True), (6, 5, False), (6, 6, False), (8, 6, True), (7, 5, True)]
    out = []
    for i in range(size):
        customer, day = i % len(usual), i // len(usual)
        total, workplace, longer = usual[customer]
        if day % 7 == 3:                              # a shorter day now and then
            total, workplace = total - 2, workplace - 2
        out.append({**body, "as_of": workdays[day % len(workdays)].isoformat(),
                    "facts": {**facts, "hours_total": total, "hours_at_workplace": workplace,
                              "longer_day_goal": longer, "sick": day % 11 == 5,
                              "days_used_before": 6 * customer + day}})
    return out


def _ensure_wrk() -> bool:
    if shutil.which("wrk"):
        return True
    if shutil.which("apt-get") and os.geteuid() == 0:
        print("wrk is missing; trying apt-get install -y wrk …", flush=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, timeout=300)
    return shutil.which("wrk") is not None


def _wait_until_up(base: str, proc: subprocess.Popen, workers: int = 1,
                   timeout: float = 120) -> None:
    """Until ``workers`` different workers have answered ``/v1/health`` (its ``bundle.worker``):
    a worker still compiling the policies when the load starts would leave the other to
    serve alone, and its queue would be the figures (on a busy machine that takes seconds).
    Requests go in bursts of parallel connections, so that a free worker cannot take them
    all; if only some workers answered by ``timeout``, it says so and goes on."""
    def ask(_: int) -> int | None:
        try:
            with urllib.request.urlopen(base + "/v1/health", timeout=5) as r:
                return json.loads(r.read())["bundle"]["worker"] if r.status == 200 else None
        except OSError:
            return None

    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    with ThreadPoolExecutor(8) as pool:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited with {proc.returncode}")
            seen.update(w for w in pool.map(ask, range(8)) if w is not None)
            if len(seen) >= workers:
                return
            time.sleep(0.1)
    if not seen:
        raise SystemExit("gunicorn did not answer in time")
    print(f"only {len(seen)} of {workers} workers answered within {timeout:.0f} s; going on")


def _settle(base: str) -> None:
    """Wait until the requests wrk left queued are answered: its connections that a sync
    worker had not yet accepted when wrk stopped are still served (a batch each), and would
    otherwise weigh on the next endpoint's first requests. A request sent now is answered
    after them; two in a row, after both workers' share."""
    for _ in range(2):
        with urllib.request.urlopen(base + "/v1/health", timeout=60) as response:
            response.read()


def _median(results: list[Result]) -> Result:
    """Field by field median over rounds; requests and errors are summed."""
    def mid(values: list[float]) -> float:
        return statistics.median(values)

    first = results[0]
    return Result(first.name, sum(r.requests for r in results), sum(r.errors for r in results),
                  mid([r.rps for r in results]), mid([r.p50_ms for r in results]),
                  mid([r.p99_ms for r in results]), f"{first.tool}, median of {len(results)}")


def _print(result: Result) -> None:
    print(f"  {result.name:<27} {result.rps:9.0f} req/s   p50 {result.p50_ms:6.2f} ms   "
          f"p99 {result.p99_ms:6.2f} ms   ({result.requests} requests, "
          f"{result.errors} errors, {result.tool})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default: as `rehab-rules serve`, two per core)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5, help="per endpoint and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000,
                        help="per endpoint and round (Python)")
    parser.add_argument("--python", action="store_true", help="skip wrk")
    parser.add_argument("--open-seconds", type=float, default=8,
                        help="seconds of each open-loop run (one per round and endpoint)")
    parser.add_argument("--database-url", help="log to this PostgreSQL database (a schema "
                        "of its own, dropped afterwards) instead of a fresh SQLite file")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from service.cli import default_workers

    args.workers = args.workers or default_workers()
    from service.database import make_engine, upgrade
    from service.decision_log import DecisionLog
    from service.tokens import TokenStore

    with tempfile.TemporaryDirectory(prefix="rehab-bench-") as tmp, \
            _database(Path(tmp), args.database_url) as url:
        work = Path(tmp)
        policies, body = _workload(work)
        upgrade(url)
        engine = make_engine(url)
        token = TokenStore(engine).create("provider", "1234567-1", "bench")[0]
        listener = _listener()
        port = listener.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DATABASE_URL": url, "POLICIES_DIR": str(policies),
               "VAR_DIR": str(work / "var"), "LOG_LEVEL": "INFO",
               "POLICIES_BOOTSTRAP": "1", "PYTHONPATH": str(ROOT)}
        from service.cli import gunicorn_args
        from service.metrics import multiprocess_environment

        env.update(multiprocess_environment(work / "var", env))

        server_log = (work / "gunicorn.log").open("wb")   # one INFO line per decision
        batch = {"decisions": batch_bodies(body)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn",
             *gunicorn_args("127.0.0.1", port, args.workers, control_socket=False,
                            fd=listener.fileno())],
            cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT,
            pass_fds=[listener.fileno()])
        listener.close()                            # gunicorn listens on its own copy
        try:
            _wait_until_up(base, proc, args.workers)
            targets = [
                Target("GET /v1/health", "GET", "/v1/health", {}),
                Target("POST /v1/decisions", "POST", "/v1/decisions",
                       {"Authorization": f"Bearer {token}"}, body),
                Target(f"POST /v1/decisions/batch×{BATCH}", "POST", "/v1/decisions/batch",
                       {"Authorization": f"Bearer {token}"}, batch),
            ]
            _check_batch(base, token, batch)
            use_wrk = not args.python and _ensure_wrk()
            print(f"gunicorn: {args.workers} sync workers on {base}; "
                  f"{args.connections} connections; policy {body['policy']}; "
                  f"decision log {url}")
            # Rounds alternate the endpoints, so that whatever else the machine does weighs
            # on all alike; each figure is the median over the rounds.
            for target in targets:   # warm-up: imports, first connections, SQLite pages
                warm = 200 // BATCH if target.path.endswith("/batch") else 200
                python_load("127.0.0.1", port, target, 4, warm, 10)
            rounds: dict[str, list[Result]] = {t.name: [] for t in targets}
            # the workers' CPU seconds per decision logged, single and batched: what the
            # machine's other work disturbs least
            cpu: dict[str, list[float]] = {t.name: [] for t in targets[1:]}
            log = DecisionLog(engine)
            for _ in range(args.rounds):
                for target in targets:
                    cpu_before, logged_before = _server_cpu(proc.pid), log.count()
                    if use_wrk:
                        result = wrk_load(base, target, args.connections, args.seconds)
                    else:
                        many = max(args.connections, args.requests // BATCH) \
                            if target.path.endswith("/batch") else args.requests
                        result = python_load("127.0.0.1", port, target, args.connections,
                                             many, args.seconds * 6)
                    rounds[target.name].append(result)
                    _settle(base)
                    if target.name in cpu:
                        cpu[target.name].append((_server_cpu(proc.pid) - cpu_before)
                                                / max(1, log.count() - logged_before))
            results = [_median(rounds[t.name]) for t in targets]
            for result in results:
                _print(result)
            # open loop at half what the closed loop got through, the no-op at the same rate,
            # in rounds that alternate the two; each endpoint's latencies pooled
            rate = results[1].rps / 2
            runs: dict[str, list[OpenRun]] = {t.name: [] for t in targets[:2]}
            busy: dict[str, list[float]] = {t.name: [] for t in targets[:2]}
            for _ in range(args.rounds):
                for target in targets[:2]:
                    before = _machine_ticks()
                    runs[target.name].append(open_loop_run("127.0.0.1", port, target, rate,
                                                           args.open_seconds))
                    busy[target.name].append(_busy_share(before, _machine_ticks()))
                    _settle(base)
            opened = [pooled(runs[t.name]) for t in targets[:2]]
            for result in opened:
                _print(result)
                print(f"      the machine's cores were busy {_list(busy[result.name])} of "
                      f"the time in its runs (sender, server and the rest)")
            floor = commit_floor(url)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            server_log.close()
        noop, decision, batched = results
        logged = DecisionLog(engine).count()
        # the ratios of each round (runs close in time), then their median
        health_r, single_r, batch_r = (rounds[t.name] for t in targets)
        ratios = [d.rps / n.rps for n, d in zip(health_r, single_r, strict=True)]
        # per decision: 1 / (decisions per second); a batch request carries BATCH decisions
        per_batch = [s.rps / (b.rps * BATCH) for s, b in zip(single_r, batch_r, strict=True)]
        p99_ratio = decision.p99_ms / noop.p99_ms
        open_noop, open_decision = opened
        print(f"  closed loop, ratio decision/no-op req/s: {statistics.median(ratios):.2f} "
              f"(rounds: {_list(ratios)}; reported, target withdrawn)")
        print(f"  closed loop, ratio decision/no-op p99:   {p99_ratio:.2f} "
              f"({decision.p99_ms:.2f} / {noop.p99_ms:.2f} ms)")
        print(f"  open loop at {rate:.0f}/s (half the closed-loop decision capacity), ratio "
              f"decision/no-op p99: {open_decision.p99_ms / open_noop.p99_ms:.2f} "
              f"({open_decision.p99_ms:.2f} / {open_noop.p99_ms:.2f} ms; p50 "
              f"{open_decision.p50_ms:.2f} / {open_noop.p50_ms:.2f} ms; "
              f"{verdict(open_decision.p99_ms / open_noop.p99_ms, 2)})")
        print(f"  one-row commit on this database alone (what every decision waits for at "
              f"least): p50 {floor[0]:.2f} ms, p99 {floor[1]:.2f} ms")
        print(f"  ratio batch/single per decision: {statistics.median(per_batch):.3f} "
              f"({1e6 / (batched.rps * BATCH):.0f} / {1e6 / decision.rps:.0f} µs; "
              f"rounds: {_list(per_batch, 3)}; {verdict(statistics.median(per_batch), 0.1)})")
        single_cpu, batch_cpu = (cpu[t.name] for t in targets[1:])
        cpu_ratios = [b / s for s, b in zip(single_cpu, batch_cpu, strict=True)]
        print(f"  ratio batch/single per decision, workers' CPU time: "
              f"{statistics.median(cpu_ratios):.3f} ({statistics.median(batch_cpu) * 1e6:.0f}"
              f" / {statistics.median(single_cpu) * 1e6:.0f} µs; rounds: "
              f"{_list(cpu_ratios, 3)})")
        print(f"  {logged} decisions logged")
        engine.dispose()


@contextlib.contextmanager
def _database(work: Path, url: str | None) -> Iterator[str]:
    """A fresh SQLite file in ``work``, or a fresh schema in the PostgreSQL database ``url``
    (dropped afterwards, whatever happened)."""
    if url is None:
        yield f"sqlite:///{work / 'var' / 'bench.db'}"
        return
    from sqlalchemy import text

    from service.database import make_engine

    schema = f"rr_bench_{os.getpid()}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def commit_floor(url: str, commits: int = 500) -> tuple[float, float]:
    """p50 and p99 (ms) of a one-row commit on the log's database, with nothing else: the
    least a logged decision waits before it is answered. On SQLite (WAL, synchronous=NORMAL)
    a commit is a write to the file system's cache; on PostgreSQL it waits until the
    server has flushed its WAL to the disk, as long as that disk takes — part of every
    decision's latency that the no-op never pays."""
    from service.database import make_engine

    engine = make_engine(url)
    conn = engine.raw_connection()
    times: list[float] = []
    try:
        cursor = conn.cursor()
        cursor.execute("CREATE TABLE bench_commit_floor (id INTEGER PRIMARY KEY, body TEXT)")
        conn.commit()
        mark = "?" if engine.dialect.name == "sqlite" else "%s"
        for i in range(commits):
            started = time.perf_counter()
            cursor.execute(f"INSERT INTO bench_commit_floor VALUES ({mark}, {mark})",
                           (i, "x" * 900))
            conn.commit()
            times.append(time.perf_counter() - started)
        cursor.execute("DROP TABLE bench_commit_floor")
        conn.commit()
    finally:
        conn.close()
        engine.dispose()
    times.sort()
    return times[len(times) // 2] * 1000, times[int(0.99 * len(times))] * 1000


def _machine_ticks() -> tuple[int, int]:
    """All CPU ticks of the machine so far, and the idle ones among them (``/proc/stat``)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]           # idle and iowait


def _busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How much of the time between two :func:`_machine_ticks` the cores were busy: near 1,
    and the open loop measures a machine without room to spare, not the service."""
    total, idle = after[0] - before[0], after[1] - before[1]
    return 1 - idle / total if total else 0.0


def _server_cpu(master: int) -> float:
    """CPU seconds (user and system) used so far by gunicorn's master and its workers."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:                  # gone meanwhile
            continue
        # after the command: state, ppid, …; utime and stime are fields 14 and 15
        if int(entry) == master or int(fields[1]) == master:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _list(values: list[float], digits: int = 2) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def _check_batch(base: str, token: str, batch: dict) -> None:
    """One batch answered whole before it is measured: wrk counts statuses, not items."""
    request = urllib.request.Request(
        base + "/v1/decisions/batch", data=json.dumps(batch).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    if answer["decided"] != len(batch["decisions"]) or answer["failed"]:
        raise SystemExit(f"the batch was not decided whole: {answer['decided']} decided, "
                         f"{answer['failed']} failed")


if __name__ == "__main__":
    main()
