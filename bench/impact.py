"""``make bench-impact``: the impact of a draft over a large decision log, on SQLite.

Seeds a temporary SQLite log with ``--rows`` (default 100,000) decisions made from the
fixture cases of course-registration 2024-01, logged as the service logs them, then replays
the log under the 2027-01 overlay (tests/scenarios/course-registration-2027) as a draft,
pinned to 2027-01, as ``rehab-rules impact`` does, once with one job and once with ``--jobs``
(default 2) worker processes. Printed: the seconds each replay took, µs per decision, rows
per second, and the same decisions through ``decide`` alone in the same run (one call each);
the ratios impact / decide are what reading the log and comparing add, or save.

Also :func:`seed_log`, which ``make bench`` uses for its smaller replay measurement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path
from typing import Any

from engine import PolicyStore, decide
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


def seed_log(url: str, store: PolicyStore, work: list[dict[str, Any]], rows: int,
             pinned: bool = True) -> DecisionLog:
    """``rows`` decisions cycling through ``work``, logged as the service logs them (personal
    codes hashed, their checks beside them, the JSON texts the masker wrote), in bulk: one
    transaction per 5,000 rows."""
    upgrade(url)
    engine = make_engine(url)
    masker = Masker(b"bench")
    made = []
    for w in work:
        d = decide(store, **({**w} if pinned else {k: v for k, v in w.items()
                                                   if k != "version"}))
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
    return log


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="logged decisions")
    parser.add_argument("--jobs", type=int, default=2,
                        help="worker processes of the second replay (the first has one job)")
    args = parser.parse_args(argv)
    running = PolicyStore.load(ROOT / "policies")
    work = cases_of(running, "course-registration", "2024-01")
    took: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'log.db'}"
        t0 = time.perf_counter()
        log = seed_log(url, running, work, args.rows)
        seeded = time.perf_counter() - t0
        running.close()
        folder = Path(tmp) / "draft"
        shutil.copytree(ROOT / "policies", folder)
        shutil.copy(OVERLAY, folder / "course-registration")
        from engine.folder import read_folder

        files, problems = read_folder(folder)
        assert not problems, problems
        store = draft_store(draft_files(files, {}, label=str(folder)), "course-registration")
        try:
            reports = []
            for jobs in (1, args.jobs):
                t0 = time.perf_counter()
                reports.append(run_impact(log, store, "course-registration",
                                          version="2027-01", jobs=jobs))
                took[jobs] = time.perf_counter() - t0
            assert reports[0] == reports[1], "the report depends on the number of jobs"
            report = reports[0]
            # the same decisions through decide alone, pinned to the draft's version
            items = [{**w, "version": "2027-01"} for w in islice(cycle(work), args.rows)]
            t0 = time.perf_counter()
            for w in items:
                decide(store, **w)
            alone = time.perf_counter() - t0
        finally:
            store.close()
    changed = report["changed"]
    print(f"seeded {args.rows:,} decisions ({len(work)} distinct cases of course-registration "
          f"2024-01) into SQLite in {seeded:.1f} s")
    print(f"impact of the 2027-01 overlay (pinned): {report['replayed']:,} replayed, "
          f"{changed['allow_to_deny']:,} allow→deny, {changed['deny_to_allow']:,} deny→allow, "
          f"{changed['other']:,} other, {report['not_replayable']['count']} not replayable "
          "(the same report with every number of jobs)")
    print(f"the same decisions through decide alone: {alone:.1f} s, "
          f"{alone / args.rows * 1e6:.0f} µs per decision, {args.rows / alone:,.0f} per second")
    for jobs, seconds in took.items():
        print(f"impact, {jobs} job(s): {seconds:.1f} s, {seconds / args.rows * 1e6:.0f} µs "
              f"per decision, {args.rows / seconds:,.0f} rows per second; ratio impact / "
              f"decide: {seconds / alone:.2f}")


if __name__ == "__main__":
    main()
