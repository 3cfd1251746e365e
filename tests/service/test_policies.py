"""GET /v1/policies, /versions/{version}, /diff (service/blueprints/policies.py)."""

from __future__ import annotations


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


def test_diff(client, tokens):
    response = client.get("/v1/policies/tiny/diff?from=2025-01&to=2025-06",
                          headers=tokens["planner"])
    assert response.status_code == 200
    diff = response.get_json()
    assert (diff["from"], diff["to"]) == ("2025-01", "2025-06")
    assert diff["parameters"]["changed"] == {"min_hours": {"from": 6, "to": 5}}
    assert [r["id"] for r in diff["rules"]["added"]] == ["TS-3-long"]
    assert [r["id"] for r in diff["rules"]["removed"]] == ["TS-2-note"]
    assert diff["rules"]["changed"] == []


def test_diff_needs_both_versions(client, tokens):
    for query in ("from=2025-01", "to=2025-06", "from=2025-01&to=2025-06&x=1"):
        response = client.get(f"/v1/policies/tiny/diff?{query}", headers=tokens["planner"])
        assert response.status_code == 422, query
    response = client.get("/v1/policies/tiny/diff?from=2025-01&to=2031-01",
                          headers=tokens["planner"])
    assert response.get_json()["error"]["code"] == "unknown_version"
