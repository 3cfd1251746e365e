"""Every error status the API answers with, always in one shape (service/errors.py)."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import EvaluationError
from service import decisions as decisions_module
from service.errors import (
    MAX_FIELDS,
    DatabaseNotReady,
    DatabaseUnavailable,
    ServiceError,
    error_response,
)
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


def test_405_is_json_too_and_says_what_is_allowed(client):
    response = client.delete("/v1/health")
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert response.content_type == "application/json"


def test_a_chunked_body_over_one_mebibyte_is_413_not_cut_off(client, tokens):
    """Without Content-Length werkzeug stops reading at the limit; the rest must not be
    dropped silently and the first MiB judged."""
    import io
    import json

    valid_then_blanks = json.dumps(decision_body()).encode() + b" " * (2 * 1024 * 1024)
    response = client.post("/v1/decisions", input_stream=io.BytesIO(valid_then_blanks),
                           headers={**tokens["provider"], "Content-Type": "application/json"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert error_of(response, 413)["code"] == "payload_too_large"
    small = client.post("/v1/decisions", input_stream=io.BytesIO(json.dumps(decision_body())
                                                                 .encode()),
                        headers={**tokens["provider"], "Content-Type": "application/json"},
                        environ_overrides={"wsgi.input_terminated": True})
    assert small.status_code == 200


def test_error_messages_never_echo_an_identity_code(client, tokens):
    """A code sent in the wrong place comes back as <hetu>, in the message and the details."""
    body = decision_body(facts={"hours": 5, "131052-308T": 1})
    error = error_of(client.post("/v1/decisions", json=body, headers=tokens["provider"]), 422)
    assert "131052-308T" not in str(error) and "<hetu>" in error["details"]["fields"]
    # a path that is no decision id is no route (its text is never quoted back)
    error = error_of(client.get("/v1/decisions/131052-308T", headers=tokens["auditor"]), 404)
    assert error["code"] == "not_found" and "131052" not in str(error)


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
    {**decision_body(), "as_of": "20250210"},
    {**decision_body(), "as_of": "2025-W07-1"},
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


def test_422_for_20000_unknown_facts_is_small_and_lists_the_allowed_facts_once(client, tokens):
    """It was 8 MB: every unknown name carried the action's whole list of facts."""
    unknown = {f"tuntematon_{i:05}": 1 for i in range(20_000)}
    response = client.post("/v1/decisions", json=decision_body(facts={"hours": 5, **unknown}),
                           headers=tokens["provider"])
    error = error_of(response, 422)
    assert len(response.get_data()) < 20_000
    assert error["code"] == "invalid_facts"
    fields = error["details"]["fields"]
    assert len(fields) == MAX_FIELDS == 50 and set(fields) <= set(unknown)
    assert error["details"]["more_fields"] == 20_000 - MAX_FIELDS
    assert error["message"].startswith("invalid facts: tuntematon_00000, ")
    assert error["message"].endswith(f" and {20_000 - MAX_FIELDS} more")
    body = response.get_data(as_text=True)
    assert body.count("its facts: client, hours, note") == 1


def test_a_few_problems_are_all_itemised(client, tokens):
    facts = {"hours": 5, **{f"x{i}": 1 for i in range(MAX_FIELDS)}}
    error = error_of(client.post("/v1/decisions", json=decision_body(facts=facts),
                                 headers=tokens["provider"]), 422)
    assert len(error["details"]["fields"]) == MAX_FIELDS
    assert "more_fields" not in error["details"] and "more" not in error["message"]


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
        assert cls.code not in seen
        seen.add(cls.code)
        # the client's errors are 4xx; the start-up check is the operator's, and an outage
        # is 503 (send it again later)
        assert 400 <= cls.status < 500 or cls in (DatabaseNotReady, DatabaseUnavailable)


def test_error_response_outside_a_request(app):
    with app.app_context():
        body, status = error_response(ValueError("x"))
    assert status == 500 and body.get_json()["error"]["code"] == "internal_error"


@pytest.mark.parametrize("raw", [
    b'{"policy": "tiny", "action": "day", "as_of": "2025-03-10", "facts": {"hours": NaN}}',
    b'{"policy": "tiny", "action": "day", "as_of": "2025-03-10", "facts": {"hours": Infinity}}',
    b'{"policy": "tiny", "action": "day", "as_of": "2025-03-10", "facts": {"hours": 1e999}}',
    b'{"facts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"facts": {"hours": ' + b"9" * 5000 + b"}}",
], ids=["NaN", "Infinity", "1e999", "nested-100000-deep", "5000-digit-int"])
def test_400_for_what_only_python_calls_json(client, tokens, raw):
    response = client.post("/v1/decisions", data=raw, headers=tokens["provider"],
                           content_type="application/json")
    assert error_of(response, 400)["code"] == "malformed_json"


def test_a_json_body_sent_as_form_data_is_still_read(client, tokens):
    import json

    response = client.post("/v1/decisions", data=json.dumps(decision_body()),
                           headers=tokens["provider"],
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200


def test_422_for_an_empty_body(client, tokens):
    response = client.post("/v1/decisions", headers=tokens["provider"])
    assert set(error_of(response, 422)["details"]["fields"]) >= {"policy", "facts"}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                          allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_envelope = st.fixed_dictionaries(
    {},
    optional={
        "policy": st.sampled_from(["tiny", "nope"]) | _json,
        "action": st.sampled_from(["day", "nope"]) | _json,
        "as_of": st.sampled_from(["2025-03-10", "2024-01-01", "2025-02-30"]) | _json,
        "lang": st.sampled_from(["fi", "sv", "en", "de"]) | _json,
        "explain": st.booleans() | _json,
        "facts": st.fixed_dictionaries(
            {}, optional={"hours": st.integers(-5, 30) | _json, "client": _json,
                          "note": _json, "extra": _json}) | _json,
    },
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_envelope | _json)
def test_nothing_a_client_sends_is_a_500(client, tokens, body):
    response = client.post("/v1/decisions", json=body, headers=tokens["provider"])
    assert response.status_code in (200, 400, 404, 422), response.get_json()
    if response.status_code != 200:
        error_of(response, response.status_code)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(
    st.sampled_from(["policy", "action", "outcome", "since", "until", "limit", "cursor",
                     "x"]),
    st.text(max_size=30), max_size=4))
def test_no_query_is_a_500(client, tokens, query):
    response = client.get("/v1/decisions", query_string=query, headers=tokens["auditor"])
    assert response.status_code in (200, 422), response.get_json()


# --- strict input (issue 21) ---------------------------------------------------------------

def _raw(client, tokens, body: bytes, path: str = "/v1/decisions", who: str = "provider"):
    return client.post(path, data=body, headers={**tokens[who],
                                                  "Content-Type": "application/json"})


@pytest.mark.parametrize(("body", "key"), [
    (b'{"policy": "tiny", "policy": "nope", "action": "day", "as_of": "2025-03-10",'
     b' "facts": {"hours": 5}}', "policy"),
    (b'{"policy": "tiny", "action": "day", "as_of": "2025-03-10",'
     b' "facts": {"hours": 5, "hours": 7}}', "hours"),
    (b'{"policy": "tiny", "action": "day", "as_of": "2025-03-10",'
     b' "facts": {"hours": 5, "note": {"a": 1, "a": 2}}}', "a"),
])
def test_a_duplicate_key_is_400_naming_it(client, tokens, body, key):
    """Was: the last one won, also for ``policy``."""
    error = error_of(_raw(client, tokens, body), 400)
    assert error["code"] == "malformed_json"
    assert error["details"] == {"duplicate_key": key}
    assert repr(key) in error["message"]


def test_a_duplicate_key_in_a_batch_or_a_draft_is_400_and_a_code_as_key_is_redacted(
        client, tokens):
    item = b'{"policy": "tiny", "action": "day", "as_of": "2025-03-10", "facts": {"hours": 5}}'
    error = error_of(_raw(client, tokens, b'{"decisions": [' + item + b"], \"decisions\": []}",
                          "/v1/decisions/batch"), 400)
    assert error["details"] == {"duplicate_key": "decisions"}
    error = error_of(_raw(client, tokens, b'{"files": {}, "files": {}}',
                          "/v1/policies/tiny/impact", who="planner"), 400)
    assert error["details"] == {"duplicate_key": "files"}
    body = (b'{"policy": "tiny", "action": "day", "as_of": "2025-03-10",'
            b' "facts": {"hours": 5, "131052-308T": 1, "131052-308T": 2}}')
    error = error_of(_raw(client, tokens, body), 400)
    assert error["details"] == {"duplicate_key": "<hetu>"} and "131052" not in str(error)


@pytest.mark.parametrize("number", [b"1e-400", b"-1e-400", b"0.0000001e-320", b"2.5E-330",
                                    b"1e400", b"-1e999"])
def test_numbers_that_underflow_are_refused_like_those_that_overflow(client, tokens, number):
    """Was: 1e-400 read as 0, while 1e400 was refused."""
    body = (b'{"policy": "tiny", "action": "day", "as_of": "2025-03-10", "facts": {"hours": '
            + number + b"}}")
    assert error_of(_raw(client, tokens, body), 400)["code"] == "malformed_json"


@pytest.mark.parametrize("number", [b"0e-400", b"0.0", b"-0.0E+5", b"5e-324", b"5.5"])
def test_zero_and_the_smallest_numbers_are_read(client, tokens, number):
    body = (b'{"policy": "tiny", "action": "day", "as_of": "2025-03-10", "facts": {"hours": '
            + number + b"}}")
    assert _raw(client, tokens, body).status_code == 200


def test_impact_without_a_body_or_with_nothing_to_replay_is_422(client, tokens):
    """Was: POST …/impact with no body answered 200, though the document requires one; as
    the CLI asks for --draft or --version, the API asks for files or a version."""
    for kwargs in ({}, {"json": {}}, {"json": {"files": {}, "since": "2025-01-01"}}):
        error = error_of(client.post("/v1/policies/tiny/impact", headers=tokens["planner"],
                                     **kwargs), 422)
        assert error["code"] == "invalid_request" and "files" in error["details"]["fields"]
    assert client.post("/v1/policies/tiny/impact", headers=tokens["planner"],
                       json={"version": "2025-01"}).status_code == 200


def test_a_chunked_form_over_one_mebibyte_is_413_not_cut_off(client):
    """"Try it" read the first MiB of a chunked form and judged it without the fields after
    the cut; with Content-Length it was 413 already. (werkzeug's test client already gave
    413 here; under gunicorn it did not: test_gunicorn.py checks it there.)"""
    import io
    from urllib.parse import urlencode

    try_url = "/explorer/policies/tiny/versions/2025-01/actions/day/try"
    fields = urlencode({"note": "x" * (1024 * 1024), "as_of": "2025-03-10", "f.hours": "5"})
    response = client.post(try_url, input_stream=io.BytesIO(fields.encode()),
                           content_type="application/x-www-form-urlencoded",
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413
    from tests.service.explorer.test_views import csrf
    small = urlencode({"as_of": "2025-03-10", "f.hours": "5",
                       "csrf_token": csrf(client)}).encode()
    response = client.post(try_url, input_stream=io.BytesIO(small),
                           content_type="application/x-www-form-urlencoded",
                           headers={"Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 200 and "outcome-deny" in response.get_data(as_text=True)
    with_length = client.post(try_url, data=fields,
                              content_type="application/x-www-form-urlencoded")
    assert with_length.status_code == 413
