"""Who may do what (service/auth.py): the role matrix of the HTTP contract."""

from __future__ import annotations

import pytest

from service.auth import bearer_token, from_loopback, principal_of
from tests.service.conftest import decision_body

# (method, path, json) → roles allowed; everyone else gets 403
MATRIX = [
    ("POST", "/v1/decisions", decision_body(), {"provider", "provider_b", "planner"}),
    ("GET", "/v1/decisions", None, {"provider", "provider_b", "planner", "auditor"}),
    ("GET", "/v1/policies", None, {"provider", "provider_b", "planner", "auditor", "ops"}),
    ("GET", "/v1/policies/tiny/versions/2025-01", None,
     {"provider", "provider_b", "planner", "auditor", "ops"}),
    ("GET", "/v1/policies/tiny/diff?from=2025-01&to=2025-06", None,
     {"provider", "provider_b", "planner", "auditor", "ops"}),
    ("POST", "/v1/admin/reload", None, {"planner"}),
]
WHO = ("provider", "provider_b", "planner", "auditor", "ops")


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX)
def test_role_matrix(client, tokens, method, path, body, allowed):
    for who in WHO:
        response = client.open(path, method=method, json=body, headers=tokens[who])
        expected = 200 if who in allowed else 403
        assert response.status_code == expected, (who, response.get_json())


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in MATRIX])
def test_every_protected_endpoint_needs_a_token(client, method, path):
    assert client.open(path, method=method).status_code == 401


@pytest.mark.parametrize("path", ["/v1/health", "/openapi.json", "/docs/", "/metrics"])
def test_health_and_docs_are_open(client, path):
    assert client.get(path).status_code == 200


def test_lower_case_bearer_scheme_is_accepted(client, tokens):
    token = tokens.raw["auditor"]
    assert client.get("/v1/policies",
                      headers={"Authorization": f"bearer {token}"}).status_code == 200


@pytest.mark.parametrize(("address", "local"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("192.0.2.10", False), ("::ffff:192.0.2.10", False), ("", False), ("not an address", False),
])
def test_from_loopback(app, address, local):
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": address}):
        assert from_loopback() is local


def test_the_bearer_token_and_whose_it_is(app, tokens):
    raw = tokens.raw["auditor"]
    for header, token in [(f"Bearer {raw}", raw), (f"bearer  {raw} ", raw), ("Bearer ", None),
                          (f"Basic {raw}", None), ("", None)]:
        with app.test_request_context("/", headers={"Authorization": header}):
            assert bearer_token() == token
            principal = principal_of(bearer_token())
            assert (principal.role if principal else None) == ("auditor" if token else None)
    with app.test_request_context("/"):
        assert principal_of("rr_unknown") is None and principal_of("  ") is None
