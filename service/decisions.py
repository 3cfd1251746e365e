"""Deciding and logging requests, without Flask: what the single and the batch endpoint share.

One request reads top to bottom: decision id → :func:`engine.decide` → the answer (the
engine's dict plus the id) → the log row with every personal identity code hashed. The
views only parse the body and answer; they hand this module the caller (``Principal``) and
the parsed request. A batch goes through :func:`engine.decide_many` in one call; each of its
decisions is logged with its share of the call's time as its latency. The log is written
before the answer leaves: a batch writes all its rows in one transaction, and one log line
that names each decision.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

from engine import Decision, EngineError, PolicyStore, decide, decide_many
from engine.model import FINDING_KINDS
from service.decision_log import DecisionLog, LogEntry
from service.ids import new_decision_id, new_decision_ids
from service.masking import Masker, get_logger
from service.metrics import Metrics
from service.tokens import Principal

__all__ = ["DecidedRequest", "DecisionHandler"]

_log = get_logger("service.decisions")



@dataclass(frozen=True)
class DecidedRequest:
    """One request decided: the engine's decision, the answer for the client and the row for
    the log (not yet written)."""

    decision: Decision
    answer: dict[str, Any]
    entry: LogEntry


class DecisionHandler:
    """Decides requests and turns each into its masked log row."""

    def __init__(self, log_: DecisionLog, masker: Masker, metrics: Metrics):
        self.log, self.masker, self.metrics = log_, masker, metrics

    def decide(self, store: PolicyStore, principal: Principal, request: dict[str, Any],
               decision_id: str | None = None) -> DecidedRequest:
        """Decide one parsed request (engine errors propagate to the caller)."""
        started = time.perf_counter()
        decision_id = decision_id or new_decision_id()
        decision = decide(store, policy=request["policy"], action=request["action"],
                          as_of=request["as_of"], facts=request["facts"],
                          lang=request["lang"], explain=request["explain"],
                          version=request.get("version"),
                          cite_text=request.get("cite_text", False))
        answer = {"decision_id": decision_id, **decision.to_dict()}
        latency_ms = (time.perf_counter() - started) * 1000
        entry = self._entry(decision_id, principal, decision, answer, request["facts"],
                            latency_ms)
        return DecidedRequest(decision, answer, entry)

    def decide_many(self, store: PolicyStore, principal: Principal,
                    requests: list[dict[str, Any]]) -> list[DecidedRequest | EngineError]:
        """Decide parsed requests in one engine call, in order; a request the engine refuses
        is answered by its :class:`EngineError` in its place (anything else propagates)."""
        started = time.perf_counter()
        decisions = decide_many(store, [
            {"policy": r["policy"], "action": r["action"], "as_of": r["as_of"],
             "facts": r["facts"], "lang": r["lang"], "explain": r["explain"],
             "version": r.get("version"), "cite_text": r.get("cite_text", False)}
            for r in requests])
        out: list[DecidedRequest | EngineError] = []
        answers = []
        ids = iter(new_decision_ids(sum(not isinstance(d, EngineError) for d in decisions)))
        for request, decision in zip(requests, decisions, strict=True):
            if isinstance(decision, EngineError):
                out.append(decision)
                continue
            answer = {"decision_id": next(ids), **decision.to_dict()}
            answers.append((request, decision, answer, len(out)))
            out.append(decision)
        # every decision of the call took its share of it
        latency_ms = (time.perf_counter() - started) * 1000 / max(len(answers), 1)
        for request, decision, answer, i in answers:
            entry = self._entry(answer["decision_id"], principal, decision, answer,
                                request["facts"], latency_ms)
            out[i] = DecidedRequest(decision, answer, entry)
        return out

    def record(self, decided: list[DecidedRequest], key: dict[str, Any] | None = None) -> None:
        """Log the rows (one transaction, after ``key``'s row of an ``Idempotency-Key``:
        :class:`service.idempotency.KeyTaken` and nothing logged if it is taken), then count
        and note each decision."""
        self.log.record_many([d.entry for d in decided], key)
        for d in decided:
            self.metrics.count_decision(d.decision.policy, d.decision.action,
                                        d.decision.outcome, d.entry.latency_ms / 1000)
        if len(decided) == 1:
            d = decided[0]
            _log.info("decision %s %s/%s@%s%s %s by %s in %.2f ms", d.entry.id,
                      d.decision.policy, d.decision.action, d.decision.version,
                      " (pinned)" if d.decision.pinned else "", d.decision.outcome,
                      d.entry.token_id, d.entry.latency_ms)
        elif decided and _log.isEnabledFor(logging.INFO):
            # a batch is one line: a hundred records would cost a fifth of its time (each
            # formatted, scrubbed and written on its own)
            _log.info("batch of %d decisions by %s in %.2f ms: %s", len(decided),
                      decided[0].entry.token_id,
                      sum(d.entry.latency_ms for d in decided), "; ".join(
                          f"{d.entry.id} {d.decision.policy}/{d.decision.action}@"
                          f"{d.decision.version}{' (pinned)' if d.decision.pinned else ''} "
                          f"{d.decision.outcome}" for d in decided))

    def _entry(self, decision_id: str, principal: Principal, decision: Decision,
               answer: dict[str, Any], facts: dict[str, Any], latency_ms: float) -> LogEntry:
        personal = decision.personal_facts
        masked = self.masker.mask_decision(facts, personal, answer["results"],
                                           {k: answer[k] for k in FINDING_KINDS})
        return LogEntry(
            id=decision_id,
            time=dt.datetime.now(dt.UTC),
            provider=principal.provider_id,
            token_id=principal.token_id,
            policy=decision.policy,
            version=decision.version,
            digest=decision.digest,
            action=decision.action,
            as_of=decision.as_of,
            lang=answer["lang"],
            facts=masked.facts,
            outcome=decision.outcome,
            fired=list(decision.fired),
            results=masked.results,
            findings=masked.findings,
            latency_ms=round(latency_ms, 3),
            bundle_id=decision.bundle,
            pinned=decision.pinned,
            hetu_checks=masked.hetu_checks,
            texts=masked.texts,
        )
