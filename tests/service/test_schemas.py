"""The schemas against what the service really answers (service/schemas.py).

``POST /v1/decisions`` answers the engine's dict as it is (``jsonify``: a marshmallow dump
would only copy it on the service's hottest path), so its response schema only documents it.
This test keeps the document true: every fixture case of the project's own policies is sent
through the API (with and without ``explain`` and ``cite_text``, pinned and by date), and
every answer, every logged decision read back and a batch must carry exactly the properties
the OpenAPI document names for them, each of the documented JSON type (null only where it says
nullable, enums kept). A field added to the engine's answer or to the log and not documented,
or documented as another type, fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.fixtures import load_suite
from engine.model import FINDING_KINDS, LANGUAGES
from service.database import upgrade
from service.schemas import DecisionRequestSchema
from tests.conftest import FIXTURES, POLICIES
from tests.service.conftest import Tokens, make_app

_TYPES: dict[str, Any] = {
    "string": str, "boolean": bool, "object": dict, "array": list,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


# documented properties an answer may leave out: a finding's due date (outside obligations),
# and a batch item's decision or error (exactly one of them)
_OPTIONAL = {"Finding": {"due"}, "BatchItem": {"decision", "error"},
             "CitedSection": {"sentences"},          # only with cite_text: true
             "Cite": {"interpretation", "url", "note", "quote"}}    # as the policy writes it


def problems(value: Any, schema: dict[str, Any], spec: dict[str, Any],
             where: str = "$") -> list[str]:
    """Where ``value`` is not what the OpenAPI ``schema`` documents: a property it does not
    name, a missing one (each is required here, but those in :data:`_OPTIONAL`), a wrong
    JSON type, a null that is not nullable, a value outside an enum."""
    name = ""
    while "$ref" in schema:
        name = schema["$ref"].rpartition("/")[2]
        schema = spec["components"]["schemas"][name]
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null, not documented nullable"]
    kind = schema.get("type")
    if kind is not None:
        check = _TYPES[kind]
        ok = check(value) if not isinstance(check, type) else isinstance(value, check)
        if not ok or (kind == "string" and isinstance(value, bool)):
            return [f"{where}: {type(value).__name__}, documented {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not one of {schema['enum']}"]
    found: list[str] = []
    if kind == "array":
        for i, item in enumerate(value):
            found += problems(item, schema.get("items", {}), spec, f"{where}[{i}]")
    if kind == "object" and "properties" in schema:
        named = schema["properties"]
        for key, item in value.items():
            if key not in named:
                found.append(f"{where}.{key}: not documented")
            else:
                found += problems(item, named[key], spec, f"{where}.{key}")
        optional = _OPTIONAL.get(name, set())
        if name == "Finding" and where.rpartition(".")[2].startswith("obligations["):
            optional = set()                 # an obligation's due date is always answered
        if name == "BatchItem" and len(optional & value.keys()) != 1:
            found.append(f"{where}: not exactly one of {sorted(optional)}")
        found += [f"{where}.{key}: documented, not answered"
                  for key in sorted(named.keys() - value.keys() - optional)]
    return found


def _document(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The app serving the project's own policies, a planner's and an auditor's token."""
    root = tmp_path_factory.mktemp("schemas")
    url = f"sqlite:///{root / 'log.db'}"
    upgrade(url)
    app = make_app(POLICIES, url, root / "var")
    return app, app.test_client(), Tokens(app.extensions["rehab_rules"].tokens)


def _requests(app) -> list[dict[str, Any]]:
    store = app.extensions["rehab_rules"].policies.current()
    cases, _ = load_suite([FIXTURES], store.policies)
    out = []
    for i, case in enumerate(cases):
        body = {"policy": case.policy, "action": case.action, "as_of": case.as_of.isoformat(),
                "lang": case.lang, "explain": i % 2 == 0, "cite_text": i % 3 == 0,
                "facts": case.facts}
        if i % 3 == 0:
            body["version"] = case.version
        out.append(body)
    return out


def test_every_answer_is_what_the_document_says(real):
    app, client, tokens = real
    spec = client.get("/openapi.json").get_json()
    seen: dict[str, set] = {"kinds": set(), "trace": set(), "pinned": set(), "chosen": set()}
    answered = 0
    for body in _requests(app):
        response = client.post("/v1/decisions", json=body, headers=tokens["planner"])
        answer = response.get_json()
        if response.status_code != 200:
            assert problems(answer, _document("ErrorEnvelope"), spec) == [], body
            continue
        answered += 1
        assert problems(answer, _document("DecisionResponse"), spec) == [], body
        seen["kinds"] |= {k for k in (*FINDING_KINDS, "results") if answer[k]}
        seen["trace"].add(answer["trace"] is None)
        seen["pinned"].add(answer["pinned"])
        seen["chosen"].add(answer["version_chosen_by"]["date"] is None)
    # the answers were of every kind the document describes
    assert answered > 300
    assert seen == {"kinds": {*FINDING_KINDS, "results"}, "trace": {True, False},
                    "pinned": {True, False}, "chosen": {True, False}}


def test_every_logged_decision_is_what_the_document_says(real):
    app, client, tokens = real
    if client.get("/v1/decisions?limit=1", headers=tokens["auditor"]).get_json()[
            "next_cursor"] is None:
        for body in _requests(app)[:60]:
            client.post("/v1/decisions", json=body, headers=tokens["planner"])
    spec = client.get("/openapi.json").get_json()
    page = client.get("/v1/decisions?limit=500", headers=tokens["auditor"]).get_json()
    assert problems(page, _document("DecisionList"), spec) == []
    assert len(page["decisions"]) > 20
    one = client.get(f"/v1/decisions/{page['decisions'][0]['decision_id']}",
                     headers=tokens["auditor"]).get_json()
    assert problems(one, _document("LoggedDecision"), spec) == []


def test_a_batch_is_what_the_document_says(real):
    app, client, tokens = real
    spec = client.get("/openapi.json").get_json()
    bodies = [*_requests(app)[:20], {"policy": "no-such-policy"}]
    answer = client.post("/v1/decisions/batch", json={"decisions": bodies},
                         headers=tokens["planner"]).get_json()
    assert answer["failed"] >= 1
    assert problems(answer, _document("BatchResponse"), spec) == []


def test_the_checker_finds_what_it_names():
    spec = {"components": {"schemas": {"A": {"type": "object", "properties": {
        "n": {"type": "integer"}, "s": {"type": "string", "nullable": True},
        "e": {"type": "string", "enum": ["x"]}}}}}}
    assert problems({"n": 1, "s": None, "e": "x"}, _document("A"), spec) == []
    assert problems({"n": True, "s": 1, "e": "y", "z": 0}, _document("A"), spec) == [
        "$.n: bool, documented integer", "$.s: int, documented string",
        "$.e: 'y' not one of ['x']", "$.z: not documented"]
    assert problems({"n": None, "s": "t"}, _document("A"), spec) == [
        "$.n: null, not documented nullable", "$.e: documented, not answered"]


def test_a_request_asks_for_the_engines_languages():
    assert tuple(DecisionRequestSchema().fields["lang"].validators[0].choices) == LANGUAGES
    assert Path(POLICIES).is_dir() and Path(FIXTURES).is_dir()
