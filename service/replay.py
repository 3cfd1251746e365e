"""The impact of a draft: the decision log read in batches and replayed under the draft.

Shared by ``rehab-rules impact`` and ``POST /v1/policies/{policy}/impact``. A draft is
validated whole like anything published, but it is only ever loaded into a store of its own:
it is never stored as a bundle, never activated, and the running set is never touched. The
replay itself is :class:`engine.replay.Impact`; this module reads the log newest first through
the database driver (:meth:`DecisionLog.read_raw`, one indexed query per batch) as plain
tuples of the columns :data:`engine.replay.ROW` names (each a column of
:class:`service.models.DecisionRow`, under the same name), and no others; a
:class:`engine.replay.LoggedDecision` is built only for a decision that changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import multiprocessing
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from engine import PolicyError, PolicyStore
from engine.errors import UnknownPolicy
from engine.fixtures import run_case
from engine.folder import PolicyFiles
from engine.pyeval import PythonEvaluator
from engine.replay import ROW, Impact, LoggedDecision, load_text
from service.bundles import files_from
from service.decision_log import COLUMNS as LOG_COLUMNS
from service.decision_log import DecisionLog

__all__ = ["AHEAD", "BATCH", "CHUNK", "COLUMNS", "PARALLEL_MIN", "TEXTS", "case_changes",
           "draft_files", "draft_store", "logged_from_row", "render_cases", "run_impact"]

BATCH = 5000     # rows per query: one short read, then five thousand decisions at once
AHEAD = 1        # batches read ahead of the replay from a database server (_read_ahead)
# what a replay reads of a row (not time, provider, token, digest, latency or bundle)
COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LoggedDecision)
                                  if f.name != "texts")
# read as their stored JSON text: a replay that writes the same texts parses none of them
TEXTS: tuple[str, ...] = ("fired", "results", "findings")
if not set(COLUMNS) <= set(LOG_COLUMNS):        # a rename on either side must not go unseen
    raise ImportError(f"engine.replay.LoggedDecision names {set(COLUMNS) - set(LOG_COLUMNS)}, "
                      "which are no columns of the decision log")
# the order _rows unpacks a row read through the driver in (engine.replay.ROW's)
_ORDER = ("id", "policy", "action", "version", "as_of", "lang", "facts", "outcome", "fired",
          "results", "findings", "pinned", "hetu_checks")
if ROW != _ORDER or not set(ROW) <= set(LOG_COLUMNS):
    raise ImportError("engine.replay.ROW is no longer the order service.replay reads")
_loads = load_text
_day = dt.date.fromisoformat


def _rows(raw: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows of :data:`engine.replay.ROW` as the driver gave them
    (:meth:`DecisionLog.read_raw`), typed as :meth:`Impact.add_rows` takes them: facts and
    checks decoded (each once), the date a date, ``pinned`` a bool; the other JSON texts
    stay text."""
    return [(i, policy, action, version, as_of if type(as_of) is dt.date else _day(as_of),
             lang, _loads(facts), outcome, fired, results, findings, bool(pinned),
             None if checks is None else {} if checks == "{}" else _loads(checks))
            for (i, policy, action, version, as_of, lang, facts, outcome, fired, results,
                 findings, pinned, checks) in raw]


def logged_from_row(row: Mapping[str, Any], texts: bool = False) -> LoggedDecision:
    """A stored row (at least :data:`COLUMNS`) as the replay reads it; with ``texts``, the
    row holds :data:`TEXTS` as their stored JSON text (``scan(texts=TEXTS)``), kept so."""
    values = {name: row[name] for name in COLUMNS}
    values["pinned"] = bool(values["pinned"])
    if texts:
        values["texts"] = {name: values.pop(name) for name in TEXTS}
        return LoggedDecision(fired=(), results={}, findings={}, **values)
    values["fired"] = tuple(values["fired"])
    return LoggedDecision(**values)


def _batches(log: DecisionLog, **options: Any) -> Iterator[list[tuple[Any, ...]]]:
    """The rows to replay (:meth:`DecisionLog.read_raw` of :data:`engine.replay.ROW`,
    typed by :func:`_rows`), :data:`BATCH` at a time. From a database server the next
    batch is read ahead (:func:`_read_ahead`): its round trip and the server's work are
    waiting, not this process's. SQLite's reading is this process's own work, and the
    interpreter handed to and fro between threads cost more than it saved on 2 cores."""
    batches = log.read_raw(ROW, batch=BATCH, **options)
    if log.engine.dialect.name != "sqlite":
        batches = _read_ahead(batches)
    return (_rows(batch) for batch in batches)


def _replay(impact: Impact, batches: Iterator[list[tuple[Any, ...]]],
            progress: Callable[[int], None] | None = None) -> None:
    """:meth:`Impact.add_rows` of each batch, read and replayed with the garbage collector
    paused (:func:`_collector_paused`); ``progress`` is called with its rows after each."""
    while True:
        with _collector_paused():
            rows = next(batches, None)
            if rows is None:
                return
            impact.add_rows(rows)
        if progress is not None:
            progress(len(rows))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The garbage collector kept from running automatically while a batch is read and
    replayed, and its youngest generation collected after.

    A batch keeps its rows, facts, requests and answers, a dozen containers per row, alive
    until it is sorted; each automatic pass walks those made since the last, and moves
    them to an older generation that the next passes walk again: about a tenth of a
    replay's time went on passes that found nothing (a replay makes no reference cycles:
    it frees what it made by reference counts alone). The pass after the batch finds only
    what outlived it, and whatever cyclic garbage this or another thread made meanwhile,
    so nothing accumulates over batches. The collector stays off if it was off, and a
    batch on another thread that finds it paused leaves it to this one to restart."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
            gc.collect(0)


def _read_ahead(batches: Iterator[list[tuple[Any, ...]]],
                depth: int = AHEAD) -> Iterator[list[tuple[Any, ...]]]:
    """The batches (:meth:`DecisionLog.read_raw`) read by a thread of their own at most
    ``depth`` batches ahead of the replay: the next query runs while this batch is
    decided: its round trip and the server's work (the driver lets go of the interpreter
    while it waits). They wait as the driver gave them, not yet decoded: a row's text is a
    third of what its parsed facts take. An error of the reading is raised here; a replay
    that stops early stops the thread."""
    ahead: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(end)
        except BaseException as exc:            # handed to the replay, raised there
            put(exc)

    reader = threading.Thread(target=read, name="impact-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = ahead.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def draft_files(running: PolicyFiles, sent: dict[str, str],
                label: str = "draft") -> PolicyFiles:
    """The running set's files with ``sent`` (``{"<policy>/<version>.yaml": text}``) added
    or replacing theirs: a draft of one new version file is the whole set plus that file.
    Problems are reported under ``label/<policy>/<version>.yaml``.

    Raises :class:`PolicyError` with every problem of the result, as publishing would.
    """
    files, problems = files_from(sent, label) if sent else (PolicyFiles(label), [])
    if problems:
        raise PolicyError(problems)
    merged = PolicyFiles(label, {**running.files, **files.files},
                         cases={**running.cases, **files.cases})
    # the Python evaluator registers nothing in the rule engine's process-wide host
    PolicyStore.from_files(merged, evaluator=PythonEvaluator()).close()
    return merged


def draft_store(files: PolicyFiles, policy: str) -> PolicyStore:
    """A store of ``policy``'s files only, on the rule engine the service decides with.

    The whole set has been validated already; compiling only the policy replayed keeps a
    large set's other rulesets out of the engine. Close it when done.
    """
    prefix = f"{policy}/"
    mine = {rel: data for rel, data in files.files.items() if rel.startswith(prefix)}
    if not mine:
        known = sorted({rel.partition("/")[0] for rel in files.files})
        raise UnknownPolicy(f"the draft has no policy {policy!r}; known: {', '.join(known)}",
                            {"policy": policy})
    cases = {rel: data for rel, data in files.cases.items() if rel.startswith(prefix)}
    return PolicyStore.from_files(PolicyFiles(files.root, mine, cases=cases,
                                              cases_root=files.cases_root))


def run_impact(log: DecisionLog, store: PolicyStore, policy: str, *,
               version: str | None = None, since: dt.datetime | None = None,
               until: dt.datetime | None = None, action: str | None = None,
               limit: int | None = None, examples: int = 5, lang: str | None = None,
               progress: Callable[[int], None] | None = None,
               jobs: int = 1) -> dict[str, Any]:
    """Replay every logged decision of ``policy`` in the window under ``store``; the report.

    ``progress`` is called with the number of rows after each batch. ``jobs`` above 1
    spreads the rows over that many worker processes (:func:`_replay_in_workers`) when
    there are at least :data:`PARALLEL_MIN` of them and the log is a database another
    process can open; the report is the very one a single job makes.
    """
    impact = Impact(store, version=version, examples=examples, lang=lang)
    filters = {"policy": policy, "action": action, "since": since, "until": until}
    url = _shareable_url(log)
    rows = 0
    if jobs > 1 and url is not None:
        rows = log.count(**filters)
        rows = rows if limit is None else min(rows, limit)
    if rows >= max(PARALLEL_MIN, 1):
        _replay_in_workers(impact, log, url or "", store, filters, limit, jobs, progress)
    else:
        _replay(impact, _batches(log, limit=limit, **filters), progress)
    report = impact.report()
    return {"policy": policy, "version": version,
            "window": {"since": since.isoformat() if since else None,
                       "until": until.isoformat() if until else None,
                       "action": action, "limit": limit},
            **report, "cases": case_changes(store, action)}


# -- replaying in worker processes ---------------------------------------------------------

PARALLEL_MIN = 5000   # fewer matching rows are replayed in-process: workers take a second
CHUNK = 5000          # rows per task handed to a worker, read there in batches of BATCH

# one worker's own engine connection, log and draft store (_start_worker)
_WORKER: dict[str, Any] = {}


def _shareable_url(log: DecisionLog) -> str | None:
    """The log's database URL, password included, if another process can open the same
    database (not an in-memory SQLite one)."""
    url = log.engine.url
    if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"
                                               or url.database.startswith("file:")):
        return None
    return url.render_as_string(hide_password=False)


def _start_worker(url: str, files: PolicyFiles, policy: str, options: dict[str, Any],
                  filters: dict[str, Any]) -> None:
    """A worker's start: its own database engine and the draft store, loaded once; then
    everything loaded so far is kept out of the garbage collector's full passes
    (:func:`gc.freeze`): a replay makes a batch's objects by the thousand, and each full
    pass would walk the compiled rules and the imported modules again."""
    from service.database import make_engine

    _WORKER.update(log=DecisionLog(make_engine(url)), store=draft_store(files, policy),
                   options=options, filters=filters)
    gc.freeze()


def _replay_chunk(within: tuple[str, str]) -> tuple[dict[str, Any], int]:
    """Replay one chunk in a worker; its :meth:`Impact.partial` and how many rows it read."""
    impact = Impact(_WORKER["store"], **_WORKER["options"])
    _replay(impact, _batches(_WORKER["log"], within=within, **_WORKER["filters"]))
    return impact.partial(), impact.read


def _replay_in_workers(impact: Impact, log: DecisionLog, url: str, store: PolicyStore,
                       filters: dict[str, Any], limit: int | None, jobs: int,
                       progress: Callable[[int], None] | None) -> None:
    """Replay the rows in ``jobs`` worker processes, chunk by chunk, and merge the chunks'
    partial reports into ``impact`` in the order the rows were read, whichever worker
    finished first: the report does not depend on the number of jobs.

    The workers are spawned, not forked: a forked child would share this process's database
    connections. Each opens its own and compiles the draft once.
    """
    options = {"version": impact.version, "examples": impact.examples, "lang": impact.lang}
    with store.using() as policy_set:
        files = policy_set.files
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(jobs, initializer=_start_worker,
                        initargs=(url, files, filters["policy"], options, filters))
    try:
        for part, read in pool.imap(_replay_chunk, log.id_slices(CHUNK, limit=limit,
                                                                 **filters)):
            impact.merge(part)
            if progress is not None:
                progress(read)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def case_changes(store: PolicyStore, action: str | None = None) -> dict[str, Any]:
    """The fixture cases the set carries (:meth:`engine.PolicyStore.cases`: the running
    set's, which all passed when it was published, with any the draft sends), run under the
    draft: how many ran, and each that now answers otherwise than it expects."""
    cases = [c for c in store.cases() if action is None or c.action == action]
    changed = []
    for case in cases:
        result = run_case(store, case)
        if not result.ok:
            changed.append({"name": case.name, "action": case.action,
                            "version": case.version, "where": case.where,
                            "failures": list(result.failures)})
    return {"run": len(cases), "changed": changed}


def render_cases(report: dict[str, Any]) -> str:
    """The report's fixture cases as a planner reads them on a terminal."""
    cases = report.get("cases") or {"run": 0, "changed": []}
    lines = [f"fixture cases: {cases['run']} run, {len(cases['changed'])} would answer "
             "differently"]
    for c in cases["changed"]:
        lines.append(f"  {c['where']}: {c['name']!r} ({c['action']}, {c['version']}): "
                     + "; ".join(c["failures"]))
    return "\n".join(lines)
