"""POST /v1/decisions, GET /v1/decisions/{id}, GET /v1/decisions (service/blueprints/decisions)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from tests.service.conftest import HETU, PROVIDER_A, Tokens, decision_body, make_app

REAL_POLICIES = Path(__file__).resolve().parents[2] / "policies"


def post(client, tokens, who="provider", **body):
    return client.post("/v1/decisions", json=decision_body(**body), headers=tokens[who])


def test_decision_is_answered_with_its_id_first_and_the_version_in_force(client, tokens):
    response = post(client, tokens)
    assert response.status_code == 200
    body = response.get_json()
    assert next(iter(body)) == "decision_id"
    assert body["version"] == "2025-01"
    assert body["digest"].startswith("sha256:")
    assert body["outcome"] == "deny"
    assert [v["rule"] for v in body["violations"]] == ["TS-1-too-short"]
    assert body["violations"][0]["message"] == "Liian lyhyt päivä: 5 h < 6 h"
    assert body["trace"] is None


def test_as_of_picks_the_version(client, tokens):
    body = post(client, tokens, as_of="2025-06-01").get_json()
    assert (body["version"], body["outcome"]) == ("2025-06", "allow")


def test_pinned_version_whatever_as_of_says(any_app):
    """A what-if under 2025-01 on a day 2025-06 is in force; logged and listed as pinned."""
    tokens = Tokens(any_app.extensions["rehab_rules"].tokens)
    client = any_app.test_client()
    in_force = post(client, tokens, as_of="2025-07-01").get_json()
    assert (in_force["version"], in_force["outcome"], in_force["pinned"]) == (
        "2025-06", "allow", False)
    response = post(client, tokens, as_of="2025-07-01", version="2025-01")
    assert response.status_code == 200
    pinned = response.get_json()
    assert (pinned["version"], pinned["outcome"], pinned["pinned"]) == ("2025-01", "deny", True)
    # before the named version takes effect too: a what-if, not no_version_in_force
    early = post(client, tokens, as_of="2024-03-01", version="2025-06")
    assert early.status_code == 200 and early.get_json()["pinned"] is True

    logged = client.get(f"/v1/decisions/{pinned['decision_id']}",
                        headers=tokens["auditor"]).get_json()
    assert (logged["version"], logged["pinned"]) == ("2025-01", True)
    get = lambda q: [d["decision_id"] for d in client.get(  # noqa: E731
        f"/v1/decisions?{q}", headers=tokens["auditor"]).get_json()["decisions"]]
    assert get("pinned=true") == [early.get_json()["decision_id"], pinned["decision_id"]]
    assert get("pinned=false") == [in_force["decision_id"]]
    assert get("version=2025-01") == [pinned["decision_id"]]
    assert get("version=2025-06&pinned=false") == [in_force["decision_id"]]
    assert get("version=2030-01") == []


def test_unknown_or_malformed_pinned_version(client, tokens):
    response = post(client, tokens, version="2030-01")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "unknown_version"
    for bad in ("2025 01", "", "x" * 101, 2025, None, "../2025-01"):
        response = post(client, tokens, version=bad)
        assert response.status_code == 422, bad
        error = response.get_json()["error"]
        assert error["code"] == "invalid_request" and set(error["details"]["fields"]) == {
            "version"}, bad
    assert client.get("/v1/decisions", headers=tokens["auditor"]).get_json()["decisions"] == []


def test_lang_and_explain(client, tokens):
    body = post(client, tokens, lang="en", explain=True).get_json()
    assert body["violations"][0]["message"] == "Day too short: 5 h < 6 h"
    assert {t["rule"] for t in body["trace"]} >= {"TS-1-too-short", "TS-2-note"}


def test_planner_may_decide_auditor_may_not(client, tokens):
    assert post(client, tokens, "planner").status_code == 200
    response = post(client, tokens, "auditor")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_logged_decision_can_be_read_back(client, tokens):
    decided = post(client, tokens).get_json()
    response = client.get(f"/v1/decisions/{decided['decision_id']}", headers=tokens["provider"])
    assert response.status_code == 200
    logged = response.get_json()
    for key in ("decision_id", "policy", "version", "digest", "action", "as_of", "outcome",
                "fired", "results", "violations"):
        assert logged[key] == decided[key], key
    assert logged["provider"] == PROVIDER_A
    assert logged["facts"] == {"hours": 5}
    assert logged["latency_ms"] > 0
    assert dt.datetime.fromisoformat(logged["time"]).tzinfo is not None


def test_another_providers_decision_is_forbidden_but_auditors_and_planners_read_it(
        client, tokens):
    decision_id = post(client, tokens).get_json()["decision_id"]
    assert client.get(f"/v1/decisions/{decision_id}",
                      headers=tokens["provider_b"]).status_code == 403
    for who in ("auditor", "planner"):
        assert client.get(f"/v1/decisions/{decision_id}", headers=tokens[who]).status_code == 200


def test_unknown_decision_is_404(client, tokens):
    response = client.get("/v1/decisions/01900000-0000-7000-8000-000000000000",
                          headers=tokens["auditor"])
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "unknown_decision"


def test_list_filters_and_pages(client, tokens):
    ids = [post(client, tokens, facts={"hours": h}).get_json()["decision_id"]
           for h in (5, 7, 5, 8, 5)]
    post(client, tokens, "provider_b")
    everything = client.get("/v1/decisions?limit=100", headers=tokens["auditor"]).get_json()
    assert len(everything["decisions"]) == 6 and everything["next_cursor"] is None

    own = client.get("/v1/decisions", headers=tokens["provider"]).get_json()["decisions"]
    assert [d["decision_id"] for d in own] == ids[::-1]          # newest first, own only

    denied = client.get("/v1/decisions?outcome=deny&policy=tiny&action=day",
                        headers=tokens["provider"]).get_json()["decisions"]
    assert [d["decision_id"] for d in denied] == [ids[4], ids[2], ids[0]]

    seen, cursor = [], None
    while True:
        query = "/v1/decisions?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(query, headers=tokens["provider"]).get_json()
        seen += [d["decision_id"] for d in page["decisions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]


def test_list_by_fired_rule_and_digest(any_app):
    client = any_app.test_client()
    tokens = Tokens(any_app.extensions["rehab_rules"].tokens)
    short = [post(client, tokens, facts={"hours": 5}).get_json() for _ in range(2)]
    post(client, tokens, facts={"hours": 8})
    noted = post(client, tokens, facts={"hours": 8, "note": "x"}).get_json()
    get = lambda q: [d["decision_id"] for d in client.get(  # noqa: E731
        "/v1/decisions", query_string=q, headers=tokens["auditor"]).get_json()["decisions"]]
    assert get({"fired": "TS-1-too-short"}) == [d["decision_id"] for d in reversed(short)]
    assert get({"fired": "TS-2-note"}) == [noted["decision_id"]]
    assert get({"fired": "TS-1"}) == []                  # a whole id, never a prefix
    assert len(get({"digest": noted["digest"]})) == 4
    assert get({"digest": "sha256:0"}) == []


def test_what_the_policy_derived_from_a_personal_code_is_logged_beside_its_hash(client,
                                                                                   tokens):
    decided = post(client, tokens, facts={"hours": 7, "client": HETU}).get_json()
    logged = client.get(f"/v1/decisions/{decided['decision_id']}",
                        headers=tokens["auditor"]).get_json()
    assert logged["facts"]["client"].startswith("hetu#")
    assert logged["hetu_checks"] == {"client": {"valid": True, "temporary": False}}
    blank = post(client, tokens, facts={"hours": 7, "client": " "}).get_json()
    assert client.get(f"/v1/decisions/{blank['decision_id']}", headers=tokens["auditor"]
                      ).get_json()["hetu_checks"] == {"client": None}
    none = post(client, tokens, facts={"hours": 7}).get_json()
    assert client.get(f"/v1/decisions/{none['decision_id']}", headers=tokens["auditor"]
                      ).get_json()["hetu_checks"] == {}


def test_list_by_time(client, tokens):
    post(client, tokens)
    now = dt.datetime.now(dt.UTC)
    later = (now + dt.timedelta(hours=1)).isoformat()
    earlier = (now - dt.timedelta(hours=1)).isoformat()
    get = lambda q: client.get("/v1/decisions", query_string=q,  # noqa: E731
                               headers=tokens["planner"]).get_json()["decisions"]
    assert len(get({"since": earlier, "until": later})) == 1
    assert get({"since": later}) == []
    assert get({"until": "2020-01-01"}) == []
    # a "+" left unencoded in the URL arrives as a space; it still means the offset
    raw = (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    response = client.get(f"/v1/decisions?since={raw}", headers=tokens["planner"])
    assert response.status_code == 200 and len(response.get_json()["decisions"]) == 1


def test_list_by_event_date(client, tokens):
    """``as_of_from`` and ``as_of_until`` bound the decision's own date, both days included,
    whenever it was logged; the same filter the explorer's list uses (DecisionLog)."""
    ids = {day: post(client, tokens, as_of=day).get_json()["decision_id"]
           for day in ("2025-02-28", "2025-03-01", "2025-03-31", "2025-04-01")}
    get = lambda q: [d["decision_id"] for d in client.get(  # noqa: E731
        "/v1/decisions", query_string=q, headers=tokens["auditor"]).get_json()["decisions"]]
    march = get({"as_of_from": "2025-03-01", "as_of_until": "2025-03-31"})
    assert march == [ids["2025-03-31"], ids["2025-03-01"]]
    assert get({"as_of_from": "2025-04-01"}) == [ids["2025-04-01"]]
    assert get({"as_of_until": "2025-02-28"}) == [ids["2025-02-28"]]
    assert get({"as_of_from": "2025-03-01", "as_of_until": "2025-03-01"}) == [ids["2025-03-01"]]
    assert get({"as_of_from": "2025-03-02", "as_of_until": "2025-03-30"}) == []
    # with the other filters, and for a provider only its own
    assert get({"as_of_from": "2025-03-01", "outcome": "allow"}) == []
    own = client.get("/v1/decisions", query_string={"as_of_until": "2025-03-01"},
                     headers=tokens["provider_b"]).get_json()["decisions"]
    assert own == []


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "outcome=maybe",
                                   "since=yesterday", "until=2025-13-01", "cursor=%21%21",
                                   "cursor=YWJj", "policyy=tiny",
                                   "since=0001-01-01T00:00:00%2B01:00",
                                   "until=9999-12-31T23:59:59-01:00",
                                   "since=2025-W20-1", "until=20250512",
                                   "since=2025-06-01&until=2025-05-01",
                                   "pinned=yes", "pinned=1", "pinned=", "version=a%20b",
                                   "version=%00", "fired=TS-1%22", "fired=%25", "fired=ts-1",
                                   "digest=a%20b", "as_of_from=2025-3-1",
                                   "as_of_until=yesterday", "as_of_from=2025-02-30",
                                   "as_of_from=2025-06-01&as_of_until=2025-05-01"])
def test_bad_list_queries_are_422(client, tokens, query):
    """Each names one field (since > until is said of since, as_of_from > as_of_until of
    as_of_from)."""
    response = client.get(f"/v1/decisions?{query}", headers=tokens["auditor"])
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request"
    assert len(error["details"]["fields"]) == 1


@pytest.mark.skipif(not (REAL_POLICIES / "tyokokeilu-tyohonvalmennus").is_dir(),
                    reason="the real tyokokeilu-tyohonvalmennus policy is not there yet")
def test_real_policy_rehab_day(sqlite_url, tmp_path):
    app = make_app(REAL_POLICIES, sqlite_url, tmp_path / "var")
    token = app.extensions["rehab_rules"].tokens.create("planner")[0]
    client = app.test_client()
    facts = {"service": "tyokokeilu", "hours_total": 7, "hours_at_workplace": 6}
    goal = {**facts, "longer_day_goal": True}     # a fact from 04/2025 (TT-1-longer-day-goal)
    outcomes = [
        client.post("/v1/decisions", headers={"Authorization": f"Bearer {token}"},
                    json={"policy": "tyokokeilu-tyohonvalmennus", "action": "rehab_day",
                          "as_of": day, "facts": sent}).get_json()["outcome"]
        for day, sent in (("2025-03-10", facts), ("2025-05-12", goal), ("2025-05-12", facts))
    ]
    assert outcomes == ["deny", "allow", "deny"]

    # the citation names the section of the service description, in the asked language where
    # Kela publishes the text in it (only Finnish here), and its sentences on request
    answer = client.post("/v1/decisions", headers={"Authorization": f"Bearer {token}"},
                         json={"policy": "tyokokeilu-tyohonvalmennus", "action": "rehab_day",
                               "as_of": "2025-05-12", "facts": facts, "lang": "sv",
                               "cite_text": True}).get_json()
    cite = answer["violations"][0]["cite"]
    assert cite["section"] == "4.2 Asiakkaan kuntoutuspäivä"          # as written, as before
    assert cite["sections"] == [{
        "number": "4.2", "heading": "Asiakkaan kuntoutuspäivä", "lang": "fi", "sentences": [
            "Asiakkaan kuntoutuspäivän pituus on vähintään 6 tuntia.",
            "Tästä vähintään 5 tuntia on asiakkaan työskentelyä työpaikalla."]}]
    logged = client.get(f"/v1/decisions/{answer['decision_id']}",
                        headers={"Authorization": f"Bearer {token}"}).get_json()
    assert logged["violations"][0]["cite"] == cite                    # the log keeps it
    plain = client.post("/v1/decisions", headers={"Authorization": f"Bearer {token}"},
                        json={"policy": "tyokokeilu-tyohonvalmennus", "action": "rehab_day",
                              "as_of": "2025-05-12", "facts": facts}).get_json()
    assert "sentences" not in plain["violations"][0]["cite"]["sections"][0]


def test_odd_text_reaches_neither_database_as_an_error(any_app):
    """NUL and friends: PostgreSQL refuses NUL in text, so these once were 500s there."""
    tokens = Tokens(any_app.extensions["rehab_rules"].tokens)
    client = any_app.test_client()
    for path in ("/v1/decisions/%00", "/v1/decisions/x%00y",
                 "/v1/decisions/01900000-0000-7000-8000-00000000000%00"):
        assert client.get(path, headers=tokens["auditor"]).status_code == 404, path
    for query in ("policy=%00", "action=a%00b", "since=2025-01-01%00", "cursor=%00"):
        response = client.get(f"/v1/decisions?{query}", headers=tokens["auditor"])
        assert response.status_code == 422, query
    odd = {"hours": 7, "note": "nul \x00 é \u2028 \ud7ff 😀", "client": "\x00"}
    response = client.post("/v1/decisions", json=decision_body(facts=odd),
                           headers=tokens["provider"])
    assert response.status_code in (200, 422), response.get_json()
    response = client.post("/v1/decisions", json=decision_body(policy="ti\x00ny"),
                           headers=tokens["provider"])
    assert response.status_code == 404


# --- POST /v1/decisions/batch -------------------------------------------------------------

def test_batch_answers_in_order_and_logs_each_with_its_own_id(client, tokens):
    items = [decision_body(facts={"hours": h}) for h in (5, 7)]
    items.insert(1, decision_body(facts={"hours": "x"}))           # invalid facts
    items.append(decision_body(policy="nope"))                      # unknown policy
    items.append("not an object")
    items.append(decision_body(facts={"hours": 6, "client": HETU}))
    response = client.post("/v1/decisions/batch", json={"decisions": items},
                           headers=tokens["provider"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [r["status"] for r in body["results"]] == [200, 422, 200, 404, 422, 200]
    assert [r["index"] for r in body["results"]] == list(range(6))
    assert body["decided"] == 3 and body["failed"] == 3
    assert body["results"][0]["decision"]["outcome"] == "deny"
    assert body["results"][2]["decision"]["outcome"] == "allow"
    assert body["results"][1]["error"]["code"] == "invalid_facts"
    assert "hours" in body["results"][1]["error"]["details"]["fields"]
    assert body["results"][3]["error"]["code"] == "unknown_policy"
    assert body["results"][4]["error"]["code"] == "invalid_request"
    ids = [r["decision"]["decision_id"] for r in body["results"] if r["status"] == 200]
    assert len(set(ids)) == 3
    for decision_id in ids:
        logged = client.get(f"/v1/decisions/{decision_id}", headers=tokens["provider"])
        assert logged.status_code == 200
        assert HETU not in logged.get_data(as_text=True)


def test_a_batch_is_one_log_line_that_names_each_decision(client, tokens, caplog):
    """A hundred records per batch were a fifth of its time: a batch writes one line, with
    each decision's id, policy, version and outcome (a single decision keeps its own)."""
    items = [decision_body(facts={"hours": h}) for h in (5, 7, 6)]
    with caplog.at_level(logging.INFO, logger="service.decisions"):
        body = client.post("/v1/decisions/batch", json={"decisions": items},
                           headers=tokens["provider"]).get_json()
        single = client.post("/v1/decisions", json=items[0],
                             headers=tokens["provider"]).get_json()
    lines = [r.getMessage() for r in caplog.records if r.name == "service.decisions"]
    assert len(lines) == 2
    batch_line, single_line = lines
    assert batch_line.startswith("batch of 3 decisions by ")
    for result in body["results"]:
        decision = result["decision"]
        assert (f"{decision['decision_id']} tiny/day@{decision['version']} "
                f"{decision['outcome']}") in batch_line
    assert single_line.startswith(f"decision {single['decision_id']} tiny/day@")


def test_batch_answers_and_logs_as_each_item_alone(client, tokens):
    """The batch decides its items in one engine call (engine.decide_many): each answer and
    log row is what the item sent alone gets, but for its id, time and latency."""
    items = [decision_body(facts={"hours": 5, "client": HETU}, lang="en"),
             decision_body(as_of="2025-07-01", facts={"hours": 5}),
             decision_body(as_of="2025-07-01", version="2025-01", facts={"hours": 5},
                           explain=True),
             decision_body(facts={"hours": -1}),
             decision_body(facts={"hours": 7}, cite_text=True, lang="sv")]
    alone = [client.post("/v1/decisions", json=item, headers=tokens["provider"])
             for item in items]
    batch = client.post("/v1/decisions/batch", json={"decisions": items},
                        headers=tokens["provider"]).get_json()["results"]
    ignored = {"decision_id", "id", "time", "latency_ms"}

    def without(body):
        return {k: v for k, v in body.items() if k not in ignored}

    for one, got in zip(alone, batch, strict=True):
        assert got["status"] == one.status_code
        if one.status_code != 200:
            assert got["error"] == one.get_json()["error"]
            continue
        assert without(got["decision"]) == without(one.get_json())
        logged = [client.get(f"/v1/decisions/{d}", headers=tokens["auditor"]).get_json()
                  for d in (got["decision"]["decision_id"], one.get_json()["decision_id"])]
        assert without(logged[0]) == without(logged[1])
        assert logged[0]["latency_ms"] > 0


def test_batch_over_the_limit_is_413_and_logs_nothing(client, tokens):
    response = client.post("/v1/decisions/batch",
                           json={"decisions": [decision_body()] * 1001},
                           headers=tokens["provider"])
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    listed = client.get("/v1/decisions", headers=tokens["auditor"]).get_json()
    assert listed["decisions"] == []


@pytest.mark.parametrize("body", [{}, {"decisions": "x"}, {"decisions": [], "extra": 1}])
def test_batch_with_a_bad_envelope_is_422(client, tokens, body):
    response = client.post("/v1/decisions/batch", json=body, headers=tokens["provider"])
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_request"


def test_batch_needs_a_deciding_role(client, tokens):
    response = client.post("/v1/decisions/batch", json={"decisions": []},
                           headers=tokens["auditor"])
    assert response.status_code == 403
