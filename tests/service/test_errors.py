"""Every error status the API answers with, always in one shape (service/errors.py)."""

from __future__ import annotations

import logging

import pytest

from engine import EvaluationError
from service.blueprints import decisions as decisions_module
from service.errors import ServiceError, error_response
from tests.service.conftest import decision_body


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_400_malformed_json(client, tokens):
    response = client.post("/v1/decisions", data=b'{"policy": ', headers=tokens["provider"],
                           content_type="application/json")
    assert error_of(response, 400)["code"] == "malformed_json"


def test_400_invalid_utf8(client, tokens):
    response = client.post("/v1/decisions", data=b'{"policy": "\xff"}',
                           headers=tokens["provider"], content_type="application/json")
    assert error_of(response, 400)["code"] == "malformed_json"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"},
                                     {"Authorization": "Basic dXNlcjpwdw=="},
                                     {"Authorization": "Bearer rr_nope_nope"}])
def test_401_without_a_valid_token(client, headers):
    response = client.post("/v1/decisions", json=decision_body(), headers=headers)
    assert error_of(response, 401)["code"] == "unauthorized"
    assert error_of(client.get("/v1/policies", headers=headers), 401)["code"] == "unauthorized"


def test_401_for_a_revoked_token(client, tokens):
    assert client.get("/v1/policies", headers=tokens["auditor"]).status_code == 200
    token_id = tokens.raw["auditor"].split("_")[1]
    assert tokens.store.revoke(token_id)
    assert error_of(client.get("/v1/policies", headers=tokens["auditor"]), 401)


def test_401_comes_before_parsing_the_body(client):
    assert error_of(client.post("/v1/decisions", data=b"{"), 401)["code"] == "unauthorized"


def test_403_wrong_role(client, tokens):
    error = error_of(client.post("/v1/admin/reload", headers=tokens["provider"]), 403)
    assert error["code"] == "forbidden"
    assert error["details"]["allowed_roles"] == ["planner"]


@pytest.mark.parametrize(("body", "code"), [
    (decision_body(policy="nope"), "unknown_policy"),
    (decision_body(action="nope"), "unknown_action"),
])
def test_404_unknown_policy_or_action(client, tokens, body, code):
    response = client.post("/v1/decisions", json=body, headers=tokens["provider"])
    assert error_of(response, 404)["code"] == code


def test_404_unknown_route_and_version(client, tokens):
    assert error_of(client.get("/v1/nothing"), 404)["code"] == "not_found"
    response = client.get("/v1/policies/tiny/versions/1999-01", headers=tokens["auditor"])
    assert error_of(response, 404)["code"] == "unknown_version"


def test_405_is_json_too(client):
    assert error_of(client.delete("/v1/health"), 405)["code"] == "method_not_allowed"


def test_413_body_over_one_mebibyte(client, tokens):
    body = decision_body(facts={"hours": 5, "note": "x" * (1024 * 1024)})
    response = client.post("/v1/decisions", json=body, headers=tokens["provider"])
    assert error_of(response, 413)["code"] == "payload_too_large"


@pytest.mark.parametrize("body", [
    [], "text", 7, None,
    {**decision_body(), "facts": []},
    {**decision_body(), "facts": "hours=5"},
    {**decision_body(), "policy": 3},
    {**decision_body(), "as_of": "2025-02-30"},
    {**decision_body(), "as_of": 20250210},
    {**decision_body(), "lang": "de"},
    {**decision_body(), "explain": "yes"},
    {**decision_body(), "extra": 1},
    {"policy": "tiny"},
])
def test_422_envelope_with_wrong_content(client, tokens, body):
    response = client.post("/v1/decisions", json=body, headers=tokens["provider"])
    error = error_of(response, 422)
    assert error["code"] == "invalid_request"
    assert error["details"]["fields"]


@pytest.mark.parametrize(("facts", "field"), [
    ({}, "hours"),
    ({"hours": "five"}, "hours"),
    ({"hours": 25}, "hours"),
    ({"hours": 5, "unknown": 1}, "unknown"),
])
def test_422_invalid_facts_name_the_field(client, tokens, facts, field):
    response = client.post("/v1/decisions", json=decision_body(facts=facts),
                           headers=tokens["provider"])
    error = error_of(response, 422)
    assert error["code"] == "invalid_facts"
    assert field in error["details"]["fields"]


def test_422_no_version_in_force(client, tokens):
    response = client.post("/v1/decisions", json=decision_body(as_of="2024-12-31"),
                           headers=tokens["provider"])
    assert error_of(response, 422)["code"] == "no_version_in_force"


@pytest.mark.parametrize("exc", [RuntimeError("boom 131052-308T"), EvaluationError("bad")])
def test_500_is_generic_and_logged_with_the_decision_id(client, tokens, monkeypatch, caplog,
                                                        exc):
    def broken(*args, **kwargs):
        raise exc

    monkeypatch.setattr(decisions_module, "decide", broken)
    with caplog.at_level(logging.ERROR, logger="service"):
        response = client.post("/v1/decisions", json=decision_body(),
                               headers=tokens["provider"])
    error = error_of(response, 500)
    assert error["code"] == "internal_error"
    decision_id = error["details"]["decision_id"]
    assert "boom" not in response.get_data(as_text=True)
    records = [r for r in caplog.records if decision_id in r.getMessage()]
    assert records and records[0].exc_text and type(exc).__name__ in records[0].exc_text
    assert "131052-308T" not in caplog.text


def test_every_service_error_has_a_distinct_code_and_status():
    seen = set()
    for cls in ServiceError.__subclasses__():
        assert (cls.code, cls.status) not in seen
        seen.add((cls.code, cls.status))
        assert 400 <= cls.status < 500


def test_error_response_outside_a_request(app):
    with app.app_context():
        body, status = error_response(ValueError("x"))
    assert status == 500 and body.get_json()["error"]["code"] == "internal_error"
