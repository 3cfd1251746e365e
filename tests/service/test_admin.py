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


def test_a_follower_serves_the_published_set_not_the_files_edited_since(
        policies_dir, sqlite_url, tmp_path):
    """After a reload every worker serves the bundle that was validated, never the disk."""
    first, second = (make_app(policies_dir, sqlite_url, tmp_path / "var") for _ in range(2))
    token = first.extensions["rehab_rules"].tokens.create("planner")[0]
    add_policy(policies_dir)
    first.test_client().post("/v1/admin/reload", headers={"Authorization": f"Bearer {token}"})
    (policies_dir / "other" / "2025-01.yaml").write_text("policy: [", encoding="utf-8")
    one, two = (app.test_client().get("/v1/health").get_json() for app in (first, second))
    assert one["policies"] == two["policies"] == 2
    assert one["bundle"]["digest"] == two["bundle"]["digest"]
    assert one["bundle"]["serving"] == two["bundle"]["serving"] == 2


def test_reload_of_an_empty_folder_is_refused(client, tokens, policies_dir):
    import shutil

    shutil.rmtree(policies_dir / "tiny")
    response = client.post("/v1/admin/reload", headers=tokens["planner"])
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["problems"][0]["code"] == "empty"
    assert client.post("/v1/decisions", json=decision_body(),
                       headers=tokens["provider"]).status_code == 200


def test_reload_refuses_a_stray_file_and_an_impossible_date(client, tokens, policies_dir):
    (policies_dir / "notes.yaml").write_text("a: 1\n", encoding="utf-8")
    path = policies_dir / "tiny" / "2025-01.yaml"
    path.write_text(VERSION_1.replace("2025-01-01", "2025-02-30"), encoding="utf-8")
    response = client.post("/v1/admin/reload", headers=tokens["planner"])
    assert response.status_code == 422
    problems = response.get_json()["error"]["details"]["problems"]
    assert sorted(p["code"] for p in problems) == ["bad_date", "wrong_place"]


# ids past the database's integer range: the probe's 500s (issue 21)
HUGE_IDS = ("2147483648", "9223372036854775807", "9223372036854775808", "1" + "0" * 40, "0")


def test_a_bundle_id_past_the_integer_range_is_404_on_both_databases(any_app):
    client = any_app.test_client()
    planner = {"Authorization": "Bearer "
               + any_app.extensions["rehab_rules"].tokens.create("planner")[0]}
    for bundle_id in HUGE_IDS:
        for method, path in (("GET", f"/v1/admin/bundles/{bundle_id}"),
                             ("POST", f"/v1/admin/bundles/{bundle_id}/activate")):
            response = client.open(path, method=method, headers=planner)
            assert response.status_code == 404, (path, response.get_data(as_text=True))
            assert response.get_json()["error"]["code"] == "not_found"
    store = any_app.extensions["rehab_rules"].bundles
    for bundle_id in (2**31, 2**63, -1, 0):         # a caller of the store, not the route
        for call in (store.get, store.files, lambda i: store.activate(i, by="t")):
            try:
                call(bundle_id)
            except Exception as exc:
                assert getattr(exc, "code", None) == "unknown_bundle", repr(exc)
            else:
                raise AssertionError(f"bundle {bundle_id} found")


def test_out_of_range_numbers_in_a_query_or_body_are_422(client, tokens):
    for query in ("bundle=2147483648", "bundle=99999999999999999999999", "limit=10000000000"):
        response = client.get(f"/v1/decisions?{query}", headers=tokens["planner"])
        assert response.status_code == 422, (query, response.get_data(as_text=True))
    response = client.post("/v1/policies/tiny/impact", headers=tokens["planner"],
                           json={"version": "2025-01", "limit": 2**63})
    assert response.status_code == 422
    assert "limit" in response.get_json()["error"]["details"]["fields"]


def test_reload_publishes_the_cases_of_fixtures_dir_and_refuses_a_failing_one(
        client, tokens, policies_dir):
    from tests.service.conftest import CASES_2025_01, write_cases

    before = client.get("/v1/health").get_json()["bundle"]
    cases = write_cases(policies_dir.parent / "fixtures")        # FIXTURES_DIR's default
    failing = cases / "tiny" / "2025-01" / "day.yaml"
    failing.write_text(CASES_2025_01.replace("expect: {outcome: allow", "expect: {outcome: "
                                             "deny"), encoding="utf-8")
    response = client.post("/v1/admin/reload", headers=tokens["planner"])
    assert response.status_code == 422
    [problem] = response.get_json()["error"]["details"]["problems"]
    assert (problem["path"], problem["line"], problem["code"]) == \
        (str(failing), 7, "case_fails")
    assert "case 'a full day with a note' (day) fails" in problem["message"]
    assert client.get("/v1/health").get_json()["bundle"] == before
    write_cases(cases)
    assert client.post("/v1/admin/reload", headers=tokens["planner"]).status_code == 200
    served = client.application.extensions["rehab_rules"].policies.current()
    assert len(served.cases()) == 4 and served.current.files.bundle == 2
