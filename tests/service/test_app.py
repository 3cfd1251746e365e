"""The app factory, the OpenAPI document and the package's public surface (service/app.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import service
from engine import decide
from service.schemas import DecisionResponseSchema
from tests.service.conftest import decision_body


def test_exported_members_are_curated():
    assert service.__all__ == ["create_app"]
    assert callable(service.create_app)


def test_health(client):
    body = client.get("/v1/health").get_json()
    assert body["status"] == "ok" and body["policies"] == 1
    assert body["bundle"]["serving"] == body["bundle"]["active"] == 1
    assert body["bundle"]["error"] is None and body["bundle"]["digest"].startswith("sha256:")


def test_openapi_lists_every_endpoint_with_bearer_security(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {
        "/v1/health", "/v1/policies", "/v1/policies/{policy}/versions/{version}",
        "/v1/policies/{policy}/diff", "/v1/policies/{policy}/impact", "/v1/decisions",
        "/v1/decisions/{decision_id}", "/v1/decisions/batch",
        "/v1/admin/reload", "/v1/admin/bundles", "/v1/admin/bundles/{bundle_id}",
        "/v1/admin/bundles/{bundle_id}/activate", "/metrics"}
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["paths"]["/v1/decisions"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in spec["paths"]["/v1/health"]["get"]
    body = spec["paths"]["/v1/decisions"]["post"]["requestBody"]
    assert "DecisionRequest" in body["content"]["application/json"]["schema"]["$ref"]


def test_openapi_documents_every_error_a_view_can_answer(client):
    spec = client.get("/openapi.json").get_json()
    responses = {(method, path): set(op["responses"]) - {"default", "200"}
                 for path, ops in spec["paths"].items() for method, op in ops.items()
                 if method != "parameters"}
    assert responses[("post", "/v1/decisions")] == {"400", "401", "403", "404", "409", "413",
                                                      "422", "503"}
    assert responses[("get", "/v1/decisions/{decision_id}")] == {"401", "403", "404", "503"}
    assert responses[("get", "/v1/policies/{policy}/versions/{version}")] == {"401", "403",
                                                                              "404", "503"}
    assert responses[("post", "/v1/admin/reload")] == {"401", "403", "422", "503"}
    assert responses[("post", "/v1/policies/{policy}/impact")] == {"400", "401", "403", "404",
                                                                   "413", "422", "503"}
    assert responses[("get", "/v1/health")] == {"503"}
    error = spec["paths"]["/v1/decisions"]["post"]["responses"]["422"]
    assert "no_version_in_force" in error["description"]
    assert error["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")


def test_docs_viewer_is_served_from_the_installed_package(client):
    """No CDN: the viewer works on a host without internet access."""
    page = client.get("/docs", follow_redirects=True)
    assert page.status_code == 200 and b"/openapi.json" in page.data
    assert b"https://" not in page.data
    assert b'"validatorUrl": null' in page.data          # no call to validator.swagger.io
    assert b"/docs/swagger-ui-bundle.js" in page.data
    script = client.get("/docs/swagger-ui-bundle.js")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.data
    assert client.get("/docs/../pyproject.toml").status_code == 404


def test_the_documented_response_schema_is_the_engines_decision(app, client, tokens):
    """The view skips the marshmallow dump; this keeps the documented shape honest."""
    store = app.extensions["rehab_rules"].policies.current()
    answer = {"decision_id": "x", **decide(store, policy="tiny", action="day",
                                            as_of="2025-03-10", facts={"hours": 5}).to_dict()}
    assert DecisionResponseSchema().dump(answer) == answer
    sent = client.post("/v1/decisions", json=decision_body(), headers=tokens["provider"])
    assert set(sent.get_json()) == set(DecisionResponseSchema().fields)


def test_pinned_version_is_documented(client):
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    version = schemas["DecisionRequest"]["properties"]["version"]
    assert "version" not in schemas["DecisionRequest"]["required"]
    assert version["pattern"] == "^[A-Za-z0-9_.-]+$" and "pinned: true" in version["description"]
    assert schemas["DecisionResponse"]["properties"]["pinned"]["type"] == "boolean"
    listing = spec["paths"]["/v1/decisions"]["get"]["parameters"]
    assert {"version", "pinned"} <= {p["name"] for p in listing}


def test_an_unmigrated_database_stops_the_app_at_start(policies_dir, tmp_path):
    import pytest

    from service.errors import DatabaseNotReady
    from tests.service.conftest import make_app

    with pytest.raises(DatabaseNotReady, match="rehab-rules db upgrade"):
        make_app(policies_dir, f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "var")


def test_errors_are_documented_in_their_one_shape(client):
    spec = client.get("/openapi.json").get_json()
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "message", "details"}


def test_without_database_url_each_var_dir_has_its_own_database(policies_dir, tmp_path,
                                                                   monkeypatch):
    """Two servers in one folder with different VAR_DIR (what `serve` runs) share nothing."""
    from service import create_app
    from service.database import upgrade

    monkeypatch.delenv("DATABASE_URL", raising=False)
    apps = []
    for name in ("a", "b"):
        var = tmp_path / name
        upgrade(f"sqlite:///{var / 'rehab-rules.db'}")
        apps.append(create_app({"POLICIES_DIR": str(policies_dir), "VAR_DIR": str(var),
                                "REHAB_RULES_HASH_KEY": "k"}))
    a, b = (app.extensions["rehab_rules"].tokens for app in apps)
    a.create("planner", None, "only in a")
    assert [row.name for row in a.list()] == ["only in a"] and b.list() == []


# --- the OpenAPI document and the service agree (schemathesis, all checks) ----------------

CONTRACT = Path(__file__).resolve().parent / "contract"
CONTRACT_EXAMPLES = 25          # per operation and phase; bounded, so CI stays in minutes
CONTRACT_SEED = 21


@pytest.fixture
def live_server(app):
    """The app on a free loopback port (werkzeug, one request at a time), stopped after."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("role", ["planner", "provider", "auditor", "ops"])
def test_the_service_keeps_its_openapi_contract(live_server, tokens, role, tmp_path):
    """schemathesis with every check (status codes, content types, response schemas and
    headers, Allow, schema-valid data accepted and invalid data refused, server errors …)
    over every operation, in every phase, with each role's token: seeded and bounded."""
    st = Path(sys.executable).with_name("st")
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.service.contract.hooks",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run(
        [str(st), "--config-file", str(CONTRACT / "schemathesis.toml"), "run",
         f"{live_server}/openapi.json", "--checks", "all",
         "--header", f"Authorization: Bearer {tokens.raw[role]}",
         "--max-examples", str(CONTRACT_EXAMPLES), "--seed", str(CONTRACT_SEED),
         "--workers", "1", "--no-color"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    assert re.search(r"\d+ generated, \d+ passed", out), out[-2000:]
