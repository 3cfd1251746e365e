"""``GET /metrics`` (service/blueprints/metrics.py): open on loopback, else an ops token."""

from __future__ import annotations

import pytest

from tests.service.conftest import decision_body, make_app

REMOTE = {"REMOTE_ADDR": "192.0.2.10"}      # TEST-NET-1: never a real caller


def test_loopback_scrape_sees_decisions_errors_and_reloads(client, tokens):
    client.post("/v1/decisions", json=decision_body(), headers=tokens["provider"])
    client.post("/v1/decisions", json=decision_body(policy="nope"), headers=tokens["provider"])
    client.post("/v1/admin/reload", headers=tokens["planner"])
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    text = response.get_data(as_text=True)
    assert 'rehab_rules_decisions_total{action="day",outcome="deny",policy="tiny"} 1.0' in text
    assert ('rehab_rules_http_responses_total{endpoint="/v1/decisions",method="POST",'
            'status="404"} 1.0') in text
    assert 'rehab_rules_policy_reloads_total{result="reloaded"} 1.0' in text


def test_unknown_paths_are_one_label_not_one_per_path(client):
    for path in ("/a", "/b", "/c"):
        client.get(path)
    text = client.get("/metrics").get_data(as_text=True)
    assert ('rehab_rules_http_responses_total{endpoint="<unmatched>",method="GET",'
            'status="404"} 3.0') in text


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("provider", 403), ("planner", 403),
                                             ("auditor", 403), ("ops", 200)])
def test_from_elsewhere_only_an_ops_token(client, tokens, who, status):
    headers = tokens[who] if who else {}
    response = client.get("/metrics", environ_base=REMOTE, headers=headers)
    assert response.status_code == status
    if status != 200:
        assert response.get_json()["error"]["code"] in ("unauthorized", "forbidden")


def test_ipv4_mapped_loopback_is_loopback(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"}
                      ).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:192.0.2.1"}
                      ).status_code == 401


def test_behind_a_local_proxy_loopback_can_be_closed(policies_dir, sqlite_url, tmp_path):
    app = make_app(policies_dir, sqlite_url, tmp_path / "var")
    app.config["METRICS_OPEN_ON_LOOPBACK"] = False
    assert app.test_client().get("/metrics").status_code == 401


@pytest.mark.slow
def test_a_flood_of_odd_methods_and_paths_keeps_the_series_bounded(client):
    """10,000 requests, each with a method or a path never seen before (issue 21: 3,000
    methods made 3,035 series, and a method that was a personal code became a label)."""
    def series() -> int:
        text = client.get("/metrics").get_data(as_text=True)
        return sum(1 for line in text.splitlines() if not line.startswith("#"))

    before = series()
    for i in range(5_000):
        client.open("/v1/health", method=f"X{i}-131052-308T")
        client.open(f"/v1/131052-308T/{i}", method=("GET", "POST", "PROPFIND")[i % 3])
    after = series()
    text = client.get("/metrics").get_data(as_text=True)
    assert "131052" not in text and "PROPFIND" not in text
    assert 'method="other"' in text
    assert after - before <= 10, (before, after)
