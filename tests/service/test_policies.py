"""GET /v1/policies, /versions/{version}, /diff (service/blueprints/policies.py)."""

from __future__ import annotations

from engine.diff import diff_versions
from engine.store import load_folder


def test_list_has_titles_and_versions(client, tokens):
    body = client.get("/v1/policies", headers=tokens["provider"]).get_json()
    [tiny] = body["policies"]
    assert tiny["policy"] == "tiny"
    assert tiny["title"]["sv"] == "Liten"
    assert [(v["version"], v["effective_from"]) for v in tiny["versions"]] == [
        ("2025-01", "2025-01-01"), ("2025-06", "2025-06-01")]
    assert all(v["digest"].startswith("sha256:") for v in tiny["versions"])
    assert tiny["versions"][0]["digest"] != tiny["versions"][1]["digest"]


def test_version_detail_has_parameters_rules_and_typed_facts(client, tokens):
    body = client.get("/v1/policies/tiny/versions/2025-01",
                      headers=tokens["auditor"]).get_json()
    assert body["parameters"] == {"min_hours": 6}
    facts = body["actions"]["day"]["facts"]
    assert facts["hours"]["type"] == "number" and facts["hours"]["required"] is True
    assert facts["client"]["type"] == "hetu" and facts["client"]["required"] is False
    rule = body["rules"][0]
    assert rule["id"] == "TS-1-too-short" and rule["effect"] == "deny"
    assert rule["cite"] == {"seed": "000", "section": "1"}
    assert set(rule["message"]) == {"fi", "sv", "en"}


def test_unknown_policy_is_404(client, tokens):
    response = client.get("/v1/policies/nope/versions/2025-01", headers=tokens["auditor"])
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "unknown_policy"


def test_diff_is_the_engine_diff_cell_by_cell(client, tokens, policies_dir):
    response = client.get("/v1/policies/tiny/diff?from=2025-01&to=2025-06",
                          headers=tokens["planner"])
    assert response.status_code == 200
    diff = response.get_json()
    assert (diff["from"], diff["to"]) == ("2025-01", "2025-06")
    assert diff["effective_from"] == {"from": "2025-01-01", "to": "2025-06-01"}
    assert diff["parameters"]["changed"] == [{"name": "min_hours", "read_by": ["TS-1-too-short"],
                                              "cells": [{"name": "min_hours",
                                                         "path": ["min_hours"],
                                                         "change": "changed",
                                                         "from": 6, "to": 5}]}]
    assert [r["id"] for r in diff["rules"]["added"]] == ["TS-3-long"]
    assert [r["id"] for r in diff["rules"]["removed"]] == ["TS-2-note"]
    assert diff["rules"]["changed"] == []
    # the schema that documents the answer drops nothing of engine/diff.py's content
    _, policies, _, _ = load_folder(policies_dir)
    old, new = policies["tiny"].versions
    assert diff == diff_versions(old, new, policies["tiny"].versions).to_dict()


def test_diff_is_utf8_not_escaped(client, tokens):
    response = client.get("/v1/policies/tiny/diff?from=2025-01&to=2025-06",
                          headers=tokens["planner"])
    assert response.mimetype == "application/json"
    assert "Pitkä päivä".encode() in response.data          # TS-3's message, as UTF-8
    assert b"\\u00e4" not in response.data


def test_diff_needs_both_versions(client, tokens):
    for query in ("from=2025-01", "to=2025-06", "from=2025-01&to=2025-06&x=1", "from=&to=x",
                  "from=a%00b&to=2025-06"):
        response = client.get(f"/v1/policies/tiny/diff?{query}", headers=tokens["planner"])
        assert response.status_code == 422, query
        assert response.get_json()["error"]["code"] == "invalid_request"
    response = client.get("/v1/policies/tiny/diff?from=2025-01&to=2031-01",
                          headers=tokens["planner"])
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "unknown_version"
    assert "known: 2025-01, 2025-06" in response.get_json()["error"]["message"]
    response = client.get("/v1/policies/nope/diff?from=2025-01&to=2025-06",
                          headers=tokens["planner"])
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "unknown_policy"
