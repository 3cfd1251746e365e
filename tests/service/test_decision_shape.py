"""One decision, one shape: every place that writes it down agrees with the others.

A decision is written down seven times: the engine's ``Decision.to_dict``, the response
schema of the API, the service's ``LogEntry``, the ``DecisionRow`` model, the Alembic
migrations, ``to_public`` (a logged decision as the API shows it) and its schema. They stay
separate on purpose (the engine knows no database, the schemas document the API, the
migrations are history), so this one test keeps them equal: a field added to one and
forgotten in another fails here, not in a client.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import inspect

from engine import decide
from engine.model import FINDING_KINDS, LANGUAGES
from service.database import make_engine
from service.decision_log import DecisionLog, LogEntry
from service.models import DecisionRow
from service.schemas import (
    CitedSectionSchema,
    CiteSchema,
    DecisionRequestSchema,
    DecisionResponseSchema,
    LoggedDecisionSchema,
)
from tests.service.conftest import HETU, PROVIDER_A, decision_body


def test_every_description_of_a_decision_has_the_same_fields(app, client, tokens, sqlite_url):
    # the engine's answer, as the API sends it, is the documented response
    store = app.extensions["rehab_rules"].policies.current()
    decision = decide(store, policy="tiny", action="day", as_of="2025-03-10",
                      facts={"hours": 5}, explain=True)
    response = set(DecisionResponseSchema().fields)
    assert {"decision_id", *decision.to_dict()} == response
    sent = client.post("/v1/decisions", json=decision_body(), headers=tokens["provider"])
    assert list(sent.get_json()) == ["decision_id", *decision.to_dict()]
    assert set(FINDING_KINDS) <= response

    # the languages a request may ask for are the engine's
    assert tuple(DecisionRequestSchema().fields["lang"].validators[0].choices) == LANGUAGES

    # what the service logs is a row of the model, which is what the migrations create
    entry_fields = {f.name for f in dataclasses.fields(LogEntry)
                    if f.metadata.get("column", True)}
    model = {c.name: c for c in DecisionRow.__table__.columns}
    assert entry_fields == set(model)
    inspector = inspect(make_engine(sqlite_url))
    migrated = {c["name"]: c for c in inspector.get_columns("decisions")}
    assert set(migrated) == set(model)
    assert {n: c["nullable"] for n, c in migrated.items()} == {
        n: c.nullable or False for n, c in model.items() if not c.primary_key} | {"id": False}
    assert {i["name"]: i["column_names"] for i in inspector.get_indexes("decisions")} == {
        i.name: [c.name for c in i.columns] for i in DecisionRow.__table__.indexes}

    # a logged decision, as the API shows it (to_public), is its documented schema; its
    # findings are the engine's kinds, each as the engine gave it
    log = DecisionLog(make_engine(sqlite_url))
    answer = {"decision_id": "x", **decision.to_dict()}
    findings = {k: answer[k] for k in FINDING_KINDS}
    entry = LogEntry(
        id="0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", time=dt.datetime.now(dt.UTC),
        provider=PROVIDER_A, token_id="t", policy=decision.policy, version=decision.version,
        digest=decision.digest, action=decision.action, as_of=decision.as_of,
        lang=decision.lang, facts={"hours": 5, "client": HETU}, outcome=decision.outcome,
        fired=list(decision.fired), results=answer["results"], findings=findings,
        latency_ms=0.1, bundle_id=decision.bundle, pinned=decision.pinned, hetu_checks={})
    log.record(entry)
    public = log.get(entry.id)
    assert set(public) == set(LoggedDecisionSchema().fields)
    assert {k: public[k] for k in FINDING_KINDS} == findings
    shared = response & set(public) - {"decision_id"}
    assert {k: public[k] for k in shared} == {k: answer[k] for k in shared}


def test_a_findings_citation_is_documented_key_by_key(real_store):
    """The citation of a finding (the rule's cite, plus the sections of the version's text
    it names, with their sentences on request) is what CiteSchema documents."""
    decision = decide(real_store, policy="tyokokeilu-tyohonvalmennus", action="rehab_day",
                      as_of="2025-05-12", facts={"service": "tyokokeilu", "hours_total": 5,
                                                 "hours_at_workplace": 4}, cite_text=True)
    cites = [f.to_dict()["cite"] for f in (*decision.violations, *decision.notices)]
    assert cites and all("sections" in c for c in cites)
    assert set().union(*cites) <= set(CiteSchema().fields)
    sections = [s for c in cites for s in c["sections"]]
    assert {k for s in sections for k in s} == set(CitedSectionSchema().fields)
