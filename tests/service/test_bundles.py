"""Policy bundles: publish, dedupe, activate, and the /v1/admin/bundles API (service/bundles)."""

from __future__ import annotations

import pytest

from engine import PolicyError
from service.bundles import BundleStore, files_from
from service.database import make_engine
from service.errors import NotFound
from tests.service.conftest import VERSION_1, VERSION_2, decision_body
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
