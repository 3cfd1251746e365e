"""The impact of a draft: the decision log read in batches and replayed under the draft.

Shared by ``rehab-rules impact`` and ``POST /v1/policies/{policy}/impact``. A draft is
validated whole like anything published, but it is only ever loaded into a store of its own:
it is never stored as a bundle, never activated, and the running set is never touched. The
replay itself is :class:`engine.replay.Impact`; this module turns log rows into
:class:`engine.replay.LoggedDecision` and reads them newest first, one indexed query per batch.
A replay reads the columns the engine's :class:`~engine.replay.LoggedDecision` names (each a
column of :class:`service.models.DecisionRow`, under the same name), and no others.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from engine import PolicyError, PolicyStore
from engine.errors import UnknownPolicy
from engine.fixtures import run_case
from engine.folder import PolicyFiles
from engine.pyeval import PythonEvaluator
from engine.replay import Impact, LoggedDecision
from service.bundles import files_from
from service.decision_log import COLUMNS as LOG_COLUMNS
from service.decision_log import DecisionLog

__all__ = ["BATCH", "COLUMNS", "case_changes", "draft_files", "draft_store", "logged_from_row",
           "render_cases", "run_impact"]

BATCH = 1000     # rows per query: one short read, then a thousand decisions
# what a replay reads of a row (not time, provider, token, digest, latency or bundle)
COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LoggedDecision))
if not set(COLUMNS) <= set(LOG_COLUMNS):        # a rename on either side must not go unseen
    raise ImportError(f"engine.replay.LoggedDecision names {set(COLUMNS) - set(LOG_COLUMNS)}, "
                      "which are no columns of the decision log")


def logged_from_row(row: Mapping[str, Any]) -> LoggedDecision:
    """A stored row (at least :data:`COLUMNS`) as the replay reads it."""
    values = {name: row[name] for name in COLUMNS}
    values["fired"] = tuple(values["fired"])
    values["pinned"] = bool(values["pinned"])
    return LoggedDecision(**values)


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
               progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Replay every logged decision of ``policy`` in the window under ``store``; the report.

    ``progress`` is called with the number of rows after each batch.
    """
    impact = Impact(store, version=version, examples=examples, lang=lang)
    for rows in log.scan(batch=BATCH, limit=limit, columns=COLUMNS, policy=policy,
                         action=action, since=since, until=until):
        impact.add(logged_from_row(r) for r in rows)
        if progress is not None:
            progress(len(rows))
    report = impact.report()
    return {"policy": policy, "version": version,
            "window": {"since": since.isoformat() if since else None,
                       "until": until.isoformat() if until else None,
                       "action": action, "limit": limit},
            **report, "cases": case_changes(store, action)}


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
