"""Policy bundles: publish, dedupe, activate, and the /v1/admin/bundles API (service/bundles)."""

from __future__ import annotations

import pytest

from engine import PolicyError
from service.bundles import BundleStore, files_from
from service.database import make_engine
from service.errors import NotFound
from tests.service.conftest import (
    CASES_2025_01,
    HETU,
    VERSION_1,
    VERSION_2,
    decision_body,
    write_cases,
)
from tests.service.test_admin import add_policy


@pytest.fixture
def bundles(any_db_url) -> BundleStore:
    return BundleStore(make_engine(any_db_url))


def test_publish_stores_every_file_and_activates(bundles, policies_dir):
    bundle, created = bundles.publish_folder(policies_dir, by="me", note="first")
    assert created and bundle.files == ("tiny/2025-01.yaml", "tiny/2025-06.yaml")
    assert bundle.note == "first" and bundle.published_by == "me"
    assert bundles.active().bundle_id == bundle.id
    files = bundles.files(bundle.id)
    assert files.files["tiny/2025-01.yaml"].decode() == VERSION_1 and files.bundle == bundle.id
    assert files.digest == bundle.digest


TINY_TEXT = "# Pieni\n\n## 1 Päivä\n\nPäivä on 6 tuntia.\n\n## 2 Huomautus\n\nHuomautus.\n" \
    "\n## 3 Pitkä päivä\n\nPitkä päivä.\n"


def test_a_version_text_is_published_with_its_version_and_changes_the_digest(
        bundles, policies_dir):
    first, _ = bundles.publish_folder(policies_dir, by="me")
    (policies_dir / "tiny" / "2025-01.fi.md").write_text(TINY_TEXT, encoding="utf-8")
    bundle, created = bundles.publish_folder(policies_dir, by="me")
    assert created and bundle.digest != first.digest
    assert bundle.files == ("tiny/2025-01.fi.md", "tiny/2025-01.yaml", "tiny/2025-06.yaml")
    assert bundles.files(bundle.id).files["tiny/2025-01.fi.md"].decode() == TINY_TEXT
    from engine import PolicyStore

    store = PolicyStore.from_files(bundles.files(bundle.id))
    try:    # a worker reads the text from the bundle, never from disk
        assert store.get_version("tiny", "2025-01").text.fi.get("1").heading == "Päivä"
    finally:
        store.close()


def test_the_same_files_reuse_their_bundle(bundles, policies_dir):
    first, _ = bundles.publish_folder(policies_dir, by="me")
    again, created = bundles.publish_folder(policies_dir, by="you")
    assert not created and again.id == first.id
    assert len(bundles.activations()) == 2


def test_a_broken_folder_is_refused_with_every_problem_and_nothing_stored(
        bundles, policies_dir):
    (policies_dir / "notes.yaml").write_text("a: 1\n")
    (policies_dir / "tiny" / "2025-06.yaml").write_text(VERSION_2.replace("deny", "maybe"))
    with pytest.raises(PolicyError) as caught:
        bundles.publish_folder(policies_dir, by="me")
    assert sorted(p.code for p in caught.value.problems) == ["bad_value", "wrong_place"]
    assert bundles.count() == 0 and bundles.active() is None


def test_an_empty_folder_is_refused(bundles, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PolicyError) as caught:
        bundles.publish_folder(tmp_path / "empty", by="me")
    assert [p.code for p in caught.value.problems] == ["empty"]


def test_activate_rolls_back_and_forward(bundles, policies_dir):
    first, _ = bundles.publish_folder(policies_dir, by="me")
    add_policy(policies_dir)
    second, _ = bundles.publish_folder(policies_dir, by="me", activate=False)
    assert bundles.active().bundle_id == first.id        # stored, not live
    assert bundles.activate(second.id, "me").bundle_id == second.id
    assert bundles.activate(first.id, "me").bundle_id == first.id
    assert [a.bundle_id for a in bundles.activations()][:3] == [first.id, second.id, first.id]
    with pytest.raises(NotFound):
        bundles.activate(999, "me")


def test_bootstrap_publishes_only_into_an_empty_database(bundles, policies_dir):
    assert bundles.bootstrap(policies_dir, "boot") is not None
    add_policy(policies_dir)
    assert bundles.bootstrap(policies_dir, "boot") is None
    assert bundles.count() == 1


def test_files_sent_to_the_api_are_checked_like_a_folder():
    files, problems = files_from({"tiny/2025-01.yaml": VERSION_1, "x.yaml": "a: 1",
                                  "a/b/c.yaml": "", "../etc/2025-01.yaml": "a"}, "bundle")
    assert list(files.files) == ["tiny/2025-01.yaml"]
    assert sorted(p.path for p in problems) == ["bundle/../etc/2025-01.yaml",
                                                 "bundle/a/b/c.yaml", "bundle/x.yaml"]
    _, problems = files_from({}, "bundle")
    assert [p.code for p in problems] == ["empty"]
    files, problems = files_from({"tiny/2025-01.yaml": VERSION_1, "tiny/2025-01.fi.md": "## 1 A",
                                  "tiny/2025-01.en.md": "## 1 A", "tiny/NOTES.md": "x"}, "b")
    assert list(files.files) == ["tiny/2025-01.fi.md", "tiny/2025-01.yaml"]
    assert sorted(p.path for p in problems) == ["b/tiny/2025-01.en.md", "b/tiny/NOTES.md"]


# --- the fixture cases travel with the policies ------------------------------------------

def test_a_bundle_carries_the_cases_beside_the_folder_in_its_files_and_digest(
        bundles, policies_dir):
    bare, _ = bundles.publish_folder(policies_dir, by="me")
    write_cases(policies_dir.parent / "fixtures")
    bundle, created = bundles.publish_folder(policies_dir, by="me")
    assert created and bundle.digest != bare.digest
    assert bundle.files == ("fixtures/tiny/2025-01/day.yaml", "fixtures/tiny/2025-06/day.yaml",
                            "tiny/2025-01.yaml", "tiny/2025-06.yaml")
    files = bundles.files(bundle.id)
    assert sorted(files.files) == ["tiny/2025-01.yaml", "tiny/2025-06.yaml"]
    assert files.cases["tiny/2025-01/day.yaml"].decode() == CASES_2025_01
    assert files.digest == bundle.digest
    from engine import PolicyStore

    store = PolicyStore.from_files(files)
    try:    # the store serves the bundle's cases, named where they stand in it
        assert [(c.version, c.name, f"{c.path}:{c.line}") for c in store.cases()] == [
            ("2025-01", "a short day", "fixtures/tiny/2025-01/day.yaml:2"),
            ("2025-01", "a full day with a note", "fixtures/tiny/2025-01/day.yaml:7"),
            ("2025-06", "a short day under 5 hours", "fixtures/tiny/2025-06/day.yaml:2"),
            ("2025-06", "a long day", "fixtures/tiny/2025-06/day.yaml:7")]
    finally:
        store.close()
    # another fixtures folder, named: other cases, another bundle
    other = write_cases(policies_dir.parent / "elsewhere")
    (other / "tiny" / "2025-06" / "day.yaml").write_text(
        (other / "tiny" / "2025-06" / "day.yaml").read_text().replace("a long day", "eleven"))
    third, created = bundles.publish_folder(policies_dir, by="me", fixtures=other)
    assert created and third.digest not in (bare.digest, bundle.digest)


def test_publish_refuses_a_failing_case_naming_it_and_stores_nothing(bundles, policies_dir):
    cases = write_cases(policies_dir.parent / "fixtures")
    failing = cases / "tiny" / "2025-01" / "day.yaml"
    failing.write_text(CASES_2025_01.replace("expect: {outcome: deny", "expect: {outcome: allow"))
    with pytest.raises(PolicyError) as refused:
        bundles.publish_folder(policies_dir, by="me")
    [problem] = refused.value.problems
    assert (problem.path, problem.line, problem.code) == (str(failing), 2, "case_fails")
    assert "case 'a short day' (day) fails: outcome: expected allow, got deny" in str(problem)
    assert bundles.count() == 0 and bundles.active() is None


def test_publish_refuses_a_rule_no_case_covers_in_a_policy_with_cases(bundles, policies_dir):
    write_cases(policies_dir.parent / "fixtures", ("2025-01",))
    with pytest.raises(PolicyError) as refused:
        bundles.publish_folder(policies_dir, by="me")
    assert {p.code for p in refused.value.problems} == {"uncovered"}
    assert any("rule TS-3-long (version 2025-06) never fires in fixtures/tiny/2025-06"
               in str(p) for p in refused.value.problems)
    assert bundles.count() == 0


def test_a_broken_fixture_file_is_refused_at_its_line(bundles, policies_dir):
    cases = write_cases(policies_dir.parent / "fixtures")
    (cases / "tiny" / "2025-01" / "more.yaml").write_text("cases:\n  - name: [\n")
    (cases / "tiny" / "stray.yaml").write_text("cases: []\n")
    with pytest.raises(PolicyError) as refused:
        bundles.publish_folder(policies_dir, by="me")
    where = {p.path.rsplit("fixtures/", 1)[1] for p in refused.value.problems}
    assert where == {"tiny/2025-01/more.yaml", "tiny/stray.yaml"}
    assert bundles.count() == 0


CODE_RULE = """\
  - id: TS-4-bad-code
    action: day
    when: client is present and not valid_hetu(client)
    effect: deny
    cite: {seed: "000", section: "4"}
    message: {fi: "Virheellinen tunnus", sv: "Ogiltig beteckning", en: "Invalid code"}
"""


def test_codes_in_cases_are_stored_as_synthetic_codes_judged_alike(any_db_url, policies_dir):
    """No one's code is stored, and every case still passes: a valid code becomes a valid
    synthetic one (born 2080–2099), an invalid one an invalid one."""
    from engine import PolicyStore
    from engine.fixtures import run_case
    from engine.personal import valid_hetu
    from service.masking import Masker

    (policies_dir / "tiny" / "2025-01.yaml").write_text(VERSION_1 + CODE_RULE)
    cases = write_cases(policies_dir.parent / "fixtures")
    (cases / "tiny" / "2025-01" / "codes.yaml").write_text(f"""\
cases:
  - name: a valid code
    action: day
    as_of: 2025-03-10
    facts: {{hours: 7, client: {HETU}}}
    expect: {{outcome: allow, fired: []}}
  - name: a mistyped code
    action: day
    as_of: 2025-03-10
    facts: {{hours: 7, client: 131052-308U}}
    expect: {{outcome: deny, fired: [TS-4-bad-code]}}
""")
    bundles = BundleStore(make_engine(any_db_url), Masker(b"key"))
    bundle, _ = bundles.publish_folder(policies_dir, by="me")
    files = bundles.files(bundle.id)
    stored = files.cases["tiny/2025-01/codes.yaml"].decode()
    assert HETU not in stored and "131052-308U" not in stored and "hetu#" not in stored
    store = PolicyStore.from_files(files)
    try:
        mine = [c for c in store.cases() if c.path.endswith("codes.yaml")]
        assert [valid_hetu(c.facts["client"]) for c in mine] == [True, False]
        assert all(c.facts["client"][6] == "A" and c.facts["client"][4:6] >= "80"
                   for c in mine)
        assert all(run_case(store, c).ok for c in store.cases())
    finally:
        store.close()
    # the same files give the same bundle again
    assert bundles.publish_folder(policies_dir, by="me")[0].id == bundle.id


def test_cases_sent_to_the_api_travel_as_fixture_files():
    files, problems = files_from({"tiny/2025-01.yaml": VERSION_1,
                                  "fixtures/tiny/2025-01/day.yaml": CASES_2025_01,
                                  "fixtures/tiny/day.yaml": "cases: []"}, "bundle")
    assert list(files.files) == ["tiny/2025-01.yaml"]
    assert files.cases == {"tiny/2025-01/day.yaml": CASES_2025_01.encode()}
    assert [p.path for p in problems] == ["bundle/fixtures/tiny/day.yaml"]


def test_the_explorer_shows_the_bundles_cases_whatever_fixtures_dir_holds(
        sqlite_url, policies_dir, tmp_path):
    """The cases beside a rule are the ones the served bundle was published with: an empty
    FIXTURES_DIR on this host, or one with other cases, changes nothing."""
    from service import create_app

    cases = write_cases(tmp_path / "published")
    BundleStore(make_engine(sqlite_url)).publish_folder(policies_dir, by="me", fixtures=cases)
    empty = tmp_path / "empty"
    empty.mkdir()
    other = write_cases(policies_dir.parent / "fixtures")      # FIXTURES_DIR's default
    (other / "tiny" / "2025-01" / "day.yaml").write_text(
        CASES_2025_01.replace("a short day", "a case only on this disk"))
    for folder in (empty, None):
        config = {"TESTING": True, "POLICIES_DIR": str(policies_dir),
                  "DATABASE_URL": sqlite_url, "VAR_DIR": str(tmp_path / "var"),
                  "REHAB_RULES_HASH_KEY": "test-key", "POLICIES_BOOTSTRAP": False,
                  "BUNDLE_CHECK_SECONDS": 0}
        if folder is not None:
            config["FIXTURES_DIR"] = str(folder)
        html = create_app(config).test_client().get(
            "/explorer/policies/tiny/versions/2025-01/actions/day?lang=en"
        ).get_data(as_text=True)
        rule = html.split('id="rule-TS-1-too-short"')[1].split('id="rule-TS-2-note"')[0]
        assert "Fires in 1, Silent in 1" in rule
        assert "a short day" in rule and "fixtures/tiny/2025-01/day.yaml:2" in rule
        assert "a case only on this disk" not in html


# --- the API ------------------------------------------------------------------------------

def test_api_lists_publishes_and_activates(client, tokens, policies_dir):
    listed = client.get("/v1/admin/bundles", headers=tokens["planner"]).get_json()
    assert [b["id"] for b in listed["bundles"]] == [1] and listed["bundles"][0]["active"]
    files = {"tiny/2025-01.yaml": VERSION_1,
             "other/2025-01.yaml": VERSION_1.replace("policy: tiny", "policy: other")}
    response = client.post("/v1/admin/bundles", json={"files": files, "note": "two"},
                           headers=tokens["planner"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["created"] and body["bundle"]["id"] == 2 and body["serving"]["serving"] == 2
    assert client.get("/v1/health").get_json()["policies"] == 2
    decided = client.post("/v1/decisions", json=decision_body(), headers=tokens["provider"])
    assert decided.get_json()["bundle"] == 2
    back = client.post("/v1/admin/bundles/1/activate", headers=tokens["planner"])
    assert back.status_code == 200 and back.get_json()["bundle"] == 1
    assert client.get("/v1/health").get_json()["policies"] == 1
    one = client.get("/v1/admin/bundles/1", headers=tokens["planner"]).get_json()
    assert one["active"] and one["files"] == ["tiny/2025-01.yaml", "tiny/2025-06.yaml"]
    logged = client.get("/v1/decisions?bundle=2", headers=tokens["auditor"]).get_json()
    assert [d["bundle"] for d in logged["decisions"]] == [2]
    assert client.get("/v1/decisions?bundle=1", headers=tokens["auditor"]
                      ).get_json()["decisions"] == []


def test_api_refuses_a_broken_bundle_and_keeps_serving(client, tokens):
    files = {"tiny/2025-01.yaml": VERSION_1.replace("effect: deny", "effect: maybe"),
             "notes.yaml": "x"}
    response = client.post("/v1/admin/bundles", json={"files": files},
                           headers=tokens["planner"])
    assert response.status_code == 422
    problems = response.get_json()["error"]["details"]["problems"]
    assert {p["code"] for p in problems} == {"wrong_place"}
    response = client.post("/v1/admin/bundles", json={"files": {"tiny/2025-01.yaml": VERSION_1
                                                               .replace("deny", "maybe")}},
                           headers=tokens["planner"])
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["problems"][0]["line"] > 1
    assert client.get("/v1/admin/bundles", headers=tokens["planner"]
                      ).get_json()["bundles"][0]["id"] == 1


def test_api_bundle_errors(client, tokens):
    assert client.get("/v1/admin/bundles/9", headers=tokens["planner"]).status_code == 404
    assert client.post("/v1/admin/bundles/9/activate",
                       headers=tokens["planner"]).get_json()["error"]["code"] == "unknown_bundle"
    assert client.get("/v1/admin/bundles", headers=tokens["provider"]).status_code == 403
    assert client.post("/v1/admin/bundles", json={"files": "x"},
                       headers=tokens["planner"]).status_code == 422
    assert client.post("/v1/admin/bundles", json={}, headers=tokens["planner"]
                       ).get_json()["error"]["details"]["fields"]["files"]


def test_a_set_found_clean_is_not_checked_again_but_a_failing_one_always_is(monkeypatch):
    """validate() remembers the digests it found clean: the same files (policies, texts and
    cases) are never run through their cases twice in a process; a failing set is refused
    every time, and a changed file is a new digest, checked again."""
    from service import bundles

    calls = []
    real = bundles.check_problems
    monkeypatch.setattr(bundles, "check_problems",
                        lambda store: calls.append(store.digest) or real(store))
    monkeypatch.setattr(bundles, "_VALIDATED", type(bundles._VALIDATED)())
    files, problems = files_from({"tiny/2025-01.yaml": VERSION_1,
                                  "fixtures/tiny/2025-01/day.yaml": CASES_2025_01}, "api")
    assert problems == []
    bundles.validate(files)
    bundles.validate(files)
    assert len(calls) == 1
    failing = CASES_2025_01.replace("outcome: deny", "outcome: allow", 1)
    assert failing != CASES_2025_01
    bad, _ = files_from({"tiny/2025-01.yaml": VERSION_1,
                         "fixtures/tiny/2025-01/day.yaml": failing}, "api")
    for _ in range(2):
        with pytest.raises(PolicyError):
            bundles.validate(bad)
    assert len(calls) == 3
