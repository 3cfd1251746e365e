"""Prometheus metrics: decisions, HTTP answers and reloads, for ``GET /metrics``.

gunicorn runs several worker processes and each counts only what it answered. Whoever starts
gunicorn (``rehab-rules serve``, the gunicorn test, the bench) first calls
:func:`multiprocess_environment`, which empties ``VAR_DIR/metrics`` and names it in
``PROMETHEUS_MULTIPROC_DIR``; prometheus-client then keeps every worker's counts in files
there and ``/metrics`` adds them up, whichever worker answers. The variable must be in the
environment before prometheus-client is imported, which is why gunicorn gets it from the
process that starts it and not from a hook inside it. Without it (the Flask test client,
``flask run``) each app counts in a registry of its own.

Labels come only from fixed sets, so no client can add series: policy and action names come
from the loaded policies (a decision is counted only once the engine accepted them),
endpoints are URL rules (``<unmatched>`` for any other path), a method outside
:data:`METHODS` is ``other`` (a raw request may carry any token as its method — a personal
code, too) and a status outside 100–599 is ``other``.

>>> m = Metrics()
>>> m.count_decision("tiny", "day", "deny", 0.002)
>>> 'rehab_rules_decisions_total{action="day",outcome="deny",policy="tiny"} 1.0' in m.render()
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["CONTENT_TYPE", "METHODS", "MULTIPROC_ENV", "Metrics", "multiprocess_environment"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# ``*_created`` timestamps double the output and say nothing a scraper needs.
disable_created_metrics()

# A decision costs well under a millisecond in the engine; the log write dominates.
_DECISION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


# The methods counted by name; any other is counted as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method_label(method: str) -> str:
    return method if method in METHODS else "other"


def _status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else "other"


class Metrics:
    """The service's counters; one per app, shared by its views."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.decisions = Counter(
            "rehab_rules_decisions", "Decisions made, by policy, action and outcome.",
            ("policy", "action", "outcome"), registry=self.registry)
        self.decision_seconds = Histogram(
            "rehab_rules_decision_seconds",
            "Time from the parsed request to the logged decision, by policy and action.",
            ("policy", "action"), buckets=_DECISION_BUCKETS, registry=self.registry)
        self.responses = Counter(
            "rehab_rules_http_responses", "HTTP answers, by method, URL rule and status.",
            ("method", "endpoint", "status"), registry=self.registry)
        self.reloads = Counter(
            "rehab_rules_policy_reloads", "Policy reloads asked for, by result.",
            ("result",), registry=self.registry)
        self.bundle = Gauge(
            "rehab_rules_policy_bundle", "The id of the policy bundle a worker serves.",
            registry=self.registry, multiprocess_mode="liveall")
        self.bundle_stale = Gauge(
            "rehab_rules_policy_bundle_stale",
            "1 while a worker cannot load the active bundle and serves an older one.",
            registry=self.registry, multiprocess_mode="liveall")
        # labelled children by their labels: ``labels()`` checks and joins the label
        # values on every call, on the path of every request; the label sets are few
        self._decision_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._response_children: dict[tuple[str, str, int], Any] = {}

    def count_decision(self, policy: str, action: str, outcome: str, seconds: float) -> None:
        key = (policy, action, outcome)
        children = self._decision_children.get(key)
        if children is None:
            children = self._decision_children[key] = (
                self.decisions.labels(policy, action, outcome),
                self.decision_seconds.labels(policy, action))
        children[0].inc()
        children[1].observe(seconds)

    def count_response(self, method: str, endpoint: str, status: int) -> None:
        """One answer; ``endpoint`` is the URL rule (or ``<unmatched>``), never a path."""
        key = (method, endpoint, status)
        child = self._response_children.get(key)
        if child is None:
            child = self.responses.labels(_method_label(method), endpoint,
                                          _status_label(status))
            if method in METHODS:       # the cache stays as small as the label sets
                self._response_children[key] = child
        child.inc()

    def count_reload(self, result: str) -> None:
        self.reloads.labels(result).inc()

    def set_bundle(self, bundle: int | None, stale: bool) -> None:
        self.bundle.set(bundle or 0)
        self.bundle_stale.set(1 if stale else 0)

    def render(self) -> str:
        """The text exposition format: every worker's counts where gunicorn runs several."""
        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)
        else:
            registry = self.registry
        return generate_latest(registry).decode("utf-8")


def multiprocess_environment(var_dir: Path | str,
                             environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variable a gunicorn server needs for shared counts, its directory made empty.

    The directory is ``environ``'s ``PROMETHEUS_MULTIPROC_DIR`` if the operator set one, else
    ``var_dir/metrics``. Count files of an earlier run (or of a reused pid) would be added to
    the new counts, so they are removed; only prometheus-client's own ``*.db`` files are, so a
    directory named by mistake loses nothing else.
    """
    environ = os.environ if environ is None else environ
    directory = Path(environ.get(MULTIPROC_ENV) or Path(var_dir) / "metrics")
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("*.db"):
        leftover.unlink()
    return {MULTIPROC_ENV: str(directory)}
