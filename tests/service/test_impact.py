"""POST /v1/policies/{policy}/impact (service/blueprints/impact.py), and the course-registration
2027 change as a planner would check it: its impact on real logged decisions through the CLI
and the API, and one of them turned into a passing fixture case with one command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from engine import PolicyStore, decide
from engine.fixtures import load_cases
from service import cli
from tests.service.conftest import HETU, VERSION_1, Tokens, decision_body, make_app

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = (ROOT / "tests" / "scenarios" / "course-registration-2027" / "policies"
           / "course-registration" / "2027-01.yaml")


def _impact(client, tokens, who="planner", policy="tiny", **body):
    return client.post(f"/v1/policies/{policy}/impact", json=body, headers=tokens[who])


@pytest.fixture
def seeded(any_app):
    client = any_app.test_client()
    tokens = Tokens(any_app.extensions["rehab_rules"].tokens)
    ids = [client.post("/v1/decisions", json=decision_body(facts=facts),
                       headers=tokens["provider"]).get_json()["decision_id"]
           for facts in ({"hours": 5.5}, {"hours": 5.5, "client": HETU}, {"hours": 5},
                         {"hours": 7}, {"hours": 7, "note": "x"})]
    return SimpleNamespace(app=any_app, client=client, tokens=tokens, ids=ids)


def test_a_draft_of_one_parameter_gives_exact_counts(seeded):
    client, tokens, ids = seeded.client, seeded.tokens, seeded.ids
    response = _impact(client, tokens, files={"tiny/2025-01.yaml": VERSION_1.replace(
        "min_hours: 6", "min_hours: 5.5")}, examples=10)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["read"], report["replayed"], report["unchanged"]) == (5, 5, 2)
    assert report["changed"] == {"total": 3, "allow_to_deny": 0, "deny_to_allow": 2,
                                 "other": 1, "other_by_aspect": {
                                     "fired": 0, "results": 0, "obligations": 0,
                                     "messages": 1, "messages_only": 1}}
    assert {e["decision_id"] for e in report["examples"]["deny_to_allow"]} == set(ids[:2])
    assert report["rules"]["TS-1-too-short"] == {"newly_fires": 0, "no_longer_fires": 2,
                                                 "examples": [ids[1], ids[0]]}
    assert report["draft"]["files"] == ["tiny/2025-01.yaml"]
    assert report["not_replayable"] == {"count": 0, "by_reason": {}, "decisions": [],
                                        "more": 0}


def test_a_new_version_file_pinned_and_a_window(seeded):
    client, tokens = seeded.client, seeded.tokens
    new = VERSION_1.replace('version: "2025-01"', 'version: "2025-03"').replace(
        "effective_from: 2025-01-01", "effective_from: 2025-03-01").replace(
        "min_hours: 6", "min_hours: 4")
    pinned = _impact(client, tokens, files={"tiny/2025-03.yaml": new}, version="2025-03",
                     limit=3).get_json()
    # the newest 3: 5 h now allowed, the two 7 h days were allowed already
    assert pinned["read"] == 3 and pinned["changed"]["deny_to_allow"] == 1
    # by date: the decisions' as_of (2025-03-10) now falls in 2025-03
    by_date = _impact(client, tokens, files={"tiny/2025-03.yaml": new}).get_json()
    assert by_date["changed"]["deny_to_allow"] == 3
    later = _impact(client, tokens, files={"tiny/2025-03.yaml": new},
                    since="2999-01-01").get_json()
    assert later["read"] == 0
    unknown = _impact(client, tokens, version="2030-01").get_json()
    assert unknown["not_replayable"]["by_reason"] == {"unknown_version": 5}


def test_a_broken_draft_is_422_with_every_problem_and_changes_nothing(seeded):
    app, client, tokens = seeded.app, seeded.client, seeded.tokens
    svc = app.extensions["rehab_rules"]
    bundles, digest = svc.bundles.count(), svc.policies.current().digest
    response = _impact(client, tokens, files={
        "tiny/2025-01.yaml": VERSION_1.replace("min_hours: 6", "min_hours: ["),
        "tiny/2025-07.yaml": "policy: tiny\n"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_policy"
    paths = {p["path"] for p in error["details"]["problems"]}
    assert paths == {"draft/tiny/2025-01.yaml", "draft/tiny/2025-07.yaml"}
    assert svc.bundles.count() == bundles and svc.policies.current().digest == digest
    assert client.post("/v1/decisions", json=decision_body(), headers=tokens["provider"]
                       ).get_json()["fired"] == ["TS-1-too-short"]


def test_bounded_by_impact_max_rows(seeded):
    app, client, tokens = seeded.app, seeded.client, seeded.tokens
    app.config["IMPACT_MAX_ROWS"] = 4
    response = _impact(client, tokens, version="2025-01")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "too_many_decisions"
    assert error["details"]["decisions"] == 5 and error["details"]["max_rows"] == 4
    assert "narrow since/until" in error["message"]
    assert _impact(client, tokens, limit=4, version="2025-01").status_code == 200


@pytest.mark.parametrize("who", ["provider", "auditor", "ops"])
def test_only_planners(seeded, who):
    client, tokens = seeded.client, seeded.tokens
    assert _impact(client, tokens, who=who, version="2025-01").status_code == 403


@pytest.mark.parametrize("body", [{"limit": 0}, {"examples": -1}, {"lang": "de"},
                                  {"since": "2025-02-01", "until": "2025-01-01"},
                                  {"files": ["x"]}, {"draft": {}}])
def test_bad_requests(seeded, body):
    client, tokens = seeded.client, seeded.tokens
    response = _impact(client, tokens, **body)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_request"


def test_a_policy_the_draft_does_not_have_is_404(seeded):
    client, tokens = seeded.client, seeded.tokens
    response = _impact(client, tokens, policy="nothing", version="2025-01")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "unknown_policy"


# --- the course-registration 2027 change on real decisions --------------------------------

@pytest.mark.slow
def test_course_registration_2027_impact_on_real_decisions(any_db_url, tmp_path):
    app = make_app(ROOT / "policies", any_db_url, tmp_path / "var")
    client = app.test_client()
    tokens = Tokens(app.extensions["rehab_rules"].tokens)
    cases, problems = load_cases([ROOT / "fixtures" / "course-registration" / "2024-01"])
    assert not problems
    logged = {}
    for case in cases:
        if "error" in case.expect:
            continue
        answer = client.post("/v1/decisions", headers=tokens["provider"], json={
            "policy": case.policy, "action": case.action, "as_of": case.as_of.isoformat(),
            "lang": case.lang, "facts": case.facts})
        assert answer.status_code == 200, (case.name, answer.get_json())
        logged[answer.get_json()["decision_id"]] = (case, answer.get_json()["outcome"])
    # what the 2027 rules decide, independently of the impact code
    draft = tmp_path / "draft"
    shutil.copytree(ROOT / "policies", draft)
    shutil.copy(OVERLAY, draft / "course-registration")
    store = PolicyStore.load(draft)
    try:
        expected = {}
        for decision_id, (case, before) in logged.items():
            after = decide(store, policy=case.policy, action=case.action, as_of=case.as_of,
                           facts=case.facts, version="2027-01").outcome
            if after != before:
                expected[decision_id] = f"{before}_to_{after}"
    finally:
        store.close()
    assert expected, "the 2027 change should change some outcomes"

    def changed(report: dict) -> dict[str, str]:
        return {e["decision_id"]: group for group in ("allow_to_deny", "deny_to_allow")
                for e in report["examples"][group]}

    result = CliRunner().invoke(cli.impact, [
        "course-registration", "--draft", str(draft), "--version", "2027-01", "--json",
        "--examples", "1000", "--database-url", any_db_url])
    assert result.exit_code == 0, result.output
    by_cli = json.loads(result.output)
    assert by_cli["read"] == by_cli["replayed"] == len(logged)
    assert changed(by_cli) == expected
    assert by_cli["changed"]["allow_to_deny"] + by_cli["changed"]["deny_to_allow"] == \
        len(expected)

    response = client.post("/v1/policies/course-registration/impact", headers=tokens["planner"],
                           json={"files": {"course-registration/2027-01.yaml":
                                           OVERLAY.read_text(encoding="utf-8")},
                                 "version": "2027-01", "examples": 1000})
    assert response.status_code == 200, response.get_json()
    by_api = response.get_json()
    assert changed(by_api) == expected
    assert {k: v for k, v in by_api.items() if k != "draft"} == \
        {k: v for k, v in by_cli.items() if k != "draft"}
    # by date nothing changes: every logged as_of is before 2027
    by_date = CliRunner().invoke(cli.impact, [
        "course-registration", "--draft", str(draft), "--json", "--database-url", any_db_url])
    assert json.loads(by_date.output)["changed"]["total"] == 0

    # one command turns any of them into a passing case of the version that decided it
    decision_id = sorted(expected)[0]
    fixtures = tmp_path / "fixtures"
    made = CliRunner().invoke(cli.fixtures_from_log, [
        decision_id, "--policies", str(ROOT / "policies"), "--fixtures", str(fixtures),
        "--database-url", any_db_url])
    assert made.exit_code == 0, made.output
    assert "the case passes under course-registration 2024-01" in made.output
    written, _ = load_cases([fixtures])
    case = logged[decision_id][0]
    assert [(c.action, c.as_of, c.facts) for c in written] == [
        (case.action, case.as_of, case.facts)]


def test_the_report_lists_the_published_cases_a_draft_would_answer_otherwise(
        policies_dir, sqlite_url, tmp_path):
    """The cases the running bundle was published with run under the draft; each that would
    now answer otherwise is listed, where it is written and how it differs."""
    from tests.service.conftest import write_cases

    write_cases(policies_dir.parent / "fixtures")
    app = make_app(policies_dir, sqlite_url, tmp_path / "var")
    client, tokens = app.test_client(), Tokens(app.extensions["rehab_rules"].tokens)
    same = _impact(client, tokens, version="2025-01").get_json()
    assert same["cases"] == {"run": 4, "changed": []}
    report = _impact(client, tokens, files={"tiny/2025-01.yaml": VERSION_1.replace(
        "min_hours: 6", "min_hours: 5")}).get_json()
    assert report["cases"]["run"] == 4
    [changed] = report["cases"]["changed"]
    assert (changed["name"], changed["action"], changed["version"]) == \
        ("a short day", "day", "2025-01")
    assert changed["where"] == "fixtures/tiny/2025-01/day.yaml:2"
    assert "outcome: expected deny, got allow" in changed["failures"]


@pytest.mark.slow
def test_the_cli_gives_the_same_report_with_two_jobs(app, sqlite_url, policies_dir, tmp_path,
                                                     monkeypatch):
    """``--jobs 2`` replays in worker processes (every size of log, here) and prints the
    report of ``--jobs 1``; the API keeps one job."""
    import service.replay

    client = app.test_client()
    tokens = Tokens(app.extensions["rehab_rules"].tokens)
    for hours in (5.5, 5, 7, 5.5, 7, 6, 5.5):
        assert client.post("/v1/decisions", json=decision_body(facts={"hours": hours}),
                           headers=tokens["provider"]).status_code == 200
    draft = tmp_path / "draft"
    shutil.copytree(policies_dir, draft)
    path = draft / "tiny" / "2025-01.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("min_hours: 6", "min_hours: 5.5"),
                    encoding="utf-8")
    monkeypatch.setattr(service.replay, "PARALLEL_MIN", 1)
    monkeypatch.setattr(service.replay, "CHUNK", 3)
    reports = []
    for jobs in ("1", "2"):
        result = CliRunner().invoke(cli.impact, [
            "tiny", "--draft", str(draft), "--json", "--examples", "2", "--jobs", jobs,
            "--database-url", sqlite_url])
        assert result.exit_code == 0, result.output
        reports.append(json.loads(result.output))
    assert reports[0] == reports[1]
    assert reports[0]["read"] == 7 and reports[0]["changed"]["deny_to_allow"] == 3
    refused = CliRunner().invoke(cli.impact, ["tiny", "--draft", str(draft), "--jobs", "0",
                                              "--database-url", sqlite_url])
    assert refused.exit_code == 2 and "--jobs" in refused.output


def test_the_cli_progress_bar_shows_rows_per_second():
    """On a terminal ``rehab-rules impact`` shows a bar that advances by each batch replayed
    and says how many rows a second go by (here on a clock that moves one second a batch)."""
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    ticks = iter(range(100))
    shown = Terminal()
    with cli._progress_bar(3000, shown) as bar:
        advance = cli._rate_shown(bar.update, clock=lambda: float(next(ticks)))
        for _ in range(3):
            advance(1000)
    text = shown.getvalue()
    assert "replaying 3,000 decisions" in text and "100%" in text
    assert "1,000 rows/s" in text
