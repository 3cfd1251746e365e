"""POST /v1/admin/reload and how every worker follows it (blueprints/admin, policy_source)."""

from __future__ import annotations

from tests.service.conftest import VERSION_1, decision_body, make_app


def add_policy(policies_dir, name="other"):
    folder = policies_dir / name
    folder.mkdir()
    (folder / "2025-01.yaml").write_text(
        VERSION_1.replace("policy: tiny", f"policy: {name}"), encoding="utf-8")


def test_reload_picks_up_new_files(client, tokens, policies_dir):
    add_policy(policies_dir)
    assert client.get("/v1/health").get_json()["policies"] == 1
    response = client.post("/v1/admin/reload", headers=tokens["planner"])
    assert response.status_code == 200
    assert [p["policy"] for p in response.get_json()["policies"]] == ["other", "tiny"]
    assert client.get("/v1/health").get_json()["policies"] == 2


def test_broken_set_is_refused_with_every_problem_and_the_old_set_serves(
        client, tokens, policies_dir):
    before = client.post("/v1/decisions", json=decision_body(), headers=tokens["provider"])
    path = policies_dir / "tiny" / "2025-01.yaml"
    broken = VERSION_1.replace("effect: deny", "effect: maybe").replace(
        "title: {fi: Päivä, sv: Dag, en: Day}", "title: {fi: Päivä}")
    path.write_text(broken, encoding="utf-8")
    response = client.post("/v1/admin/reload", headers=tokens["planner"])
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_policy"
    problems = error["details"]["problems"]
    assert len(problems) >= 2
    assert all(p["path"].endswith("2025-01.yaml") and p["line"] > 0 for p in problems)
    after = client.post("/v1/decisions", json=decision_body(), headers=tokens["provider"])
    assert after.status_code == 200
    assert after.get_json()["digest"] == before.get_json()["digest"]


def test_other_workers_follow_a_reload(policies_dir, sqlite_url, tmp_path):
    """Two apps on one VAR_DIR stand for two gunicorn workers of one host."""
    first, second = (make_app(policies_dir, sqlite_url, tmp_path / "var") for _ in range(2))
    token = first.extensions["rehab_rules"].tokens.create("planner")[0]
    add_policy(policies_dir)
    assert second.test_client().get("/v1/health").get_json()["policies"] == 1
    first.test_client().post("/v1/admin/reload",
                             headers={"Authorization": f"Bearer {token}"})
    assert second.test_client().get("/v1/health").get_json()["policies"] == 2


def test_a_follower_keeps_its_set_when_the_files_broke_meanwhile(
        policies_dir, sqlite_url, tmp_path):
    first, second = (make_app(policies_dir, sqlite_url, tmp_path / "var") for _ in range(2))
    token = first.extensions["rehab_rules"].tokens.create("planner")[0]
    add_policy(policies_dir)
    first.test_client().post("/v1/admin/reload", headers={"Authorization": f"Bearer {token}"})
    (policies_dir / "other" / "2025-01.yaml").write_text("policy: [", encoding="utf-8")
    assert second.test_client().get("/v1/health").get_json()["policies"] == 1
