"""The decision log's pages: the filtered list, a decision's page, the CSV export
(service/explorer/decisions.py), through Flask's test client on the tiny policy."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest

from service.schemas import LoggedDecisionSchema
from tests.service.conftest import HETU, PROVIDER_A, PROVIDER_B, decision_body
from tests.service.explorer.test_signin import sign_in
from tests.service.explorer.test_views import page

LIST = "/explorer/decisions"


@pytest.fixture
def logged(client, tokens) -> dict[str, str]:
    """Six decisions through the API: five of provider A, one of provider B."""
    made = {}
    for name, who, body in (
            ("a1", "provider", {"as_of": "2025-03-10", "facts": {"hours": 5, "client": HETU}}),
            ("a2", "provider", {"as_of": "2025-03-20", "facts": {"hours": 7}}),
            ("a3", "provider", {"as_of": "2025-07-01", "facts": {"hours": 4}}),
            ("a4", "provider", {"as_of": "2025-07-02", "facts": {"hours": 11}}),
            ("a5", "provider", {"as_of": "2025-03-10", "facts": {"hours": 7},
                                "version": "2025-06"}),
            ("b1", "provider_b", {"as_of": "2025-03-15", "facts": {"hours": 5}})):
        response = client.post("/v1/decisions", json=decision_body(**body), headers=tokens[who])
        assert response.status_code == 200, response.get_json()
        made[name] = response.get_json()["decision_id"]
    return made


def ids(html: str) -> list[str]:
    return re.findall(r'data-decision="([^"]+)"', html)


def names(logged: dict[str, str], html: str) -> list[str]:
    by_id = {v: k for k, v in logged.items()}
    return [by_id[i] for i in ids(html)]


def test_the_list_asks_to_sign_in_and_refuses_other_roles(client, tokens, logged):
    html = page(client, LIST + "?lang=en", status=401)
    assert "Sign in as an auditor, a planner or a provider" in html
    assert 'action="/explorer/signin"' in html
    sign_in(client, tokens.raw["ops"])
    page(client, LIST, status=403)


def test_an_auditor_sees_every_decision_newest_first(client, tokens, logged):
    sign_in(client, tokens.raw["auditor"])
    html = page(client, LIST)
    assert names(logged, html) == ["b1", "a5", "a4", "a3", "a2", "a1"]
    assert 'name="provider"' in html and PROVIDER_B in html      # the provider column
    assert HETU not in html
    # each row links to its decision page
    assert f'href="/explorer/decisions/{logged["a1"]}"' in html


def test_a_provider_sees_only_its_own(client, tokens, logged):
    sign_in(client, tokens.raw["provider"])
    html = page(client, LIST)
    assert names(logged, html) == ["a5", "a4", "a3", "a2", "a1"]
    assert 'name="provider"' not in html and PROVIDER_B not in html
    # asking for another provider changes nothing
    assert names(logged, page(client, f"{LIST}?provider={PROVIDER_B}")) == [
        "a5", "a4", "a3", "a2", "a1"]


@pytest.mark.parametrize(("query", "expected"), [
    ("policy=tiny", ["b1", "a5", "a4", "a3", "a2", "a1"]),
    ("policy=nope", []),
    ("action=day", ["b1", "a5", "a4", "a3", "a2", "a1"]),
    ("action=night", []),
    ("version=2025-06", ["a5", "a4", "a3"]),
    ("outcome=deny", ["b1", "a3", "a1"]),
    ("outcome=allow", ["a5", "a4", "a2"]),
    ("fired=TS-3-long", ["a4"]),
    ("fired=TS-1-too-short", ["b1", "a3", "a1"]),
    (f"provider={PROVIDER_B}", ["b1"]),
    (f"provider={PROVIDER_A}", ["a5", "a4", "a3", "a2", "a1"]),
    ("as_of_from=2025-03-10&as_of_until=2025-03-15", ["b1", "a5", "a1"]),
    ("as_of_from=2025-07-01", ["a4", "a3"]),
    ("as_of_until=2025-03-10", ["a5", "a1"]),
    ("pinned=true", ["a5"]),
    ("pinned=false", ["b1", "a4", "a3", "a2", "a1"]),
    ("outcome=deny&fired=TS-1-too-short&as_of_from=2025-03-01&as_of_until=2025-03-31",
     ["b1", "a1"]),
    # empty fields of a sent form are no filter
    ("policy=&outcome=&pinned=&as_of_from=&since=", ["b1", "a5", "a4", "a3", "a2", "a1"]),
])
def test_each_filter(client, tokens, logged, query, expected):
    sign_in(client, tokens.raw["planner"])
    assert names(logged, page(client, f"{LIST}?{query}")) == expected


def test_the_logged_day_range_takes_both_days_whole(client, tokens, logged):
    sign_in(client, tokens.raw["auditor"])
    today = dt.datetime.now(dt.UTC).date()
    yesterday, tomorrow = today - dt.timedelta(days=1), today + dt.timedelta(days=1)
    assert len(ids(page(client, f"{LIST}?since={today}&until={today}"))) == 6
    assert ids(page(client, f"{LIST}?until={yesterday}")) == []
    assert ids(page(client, f"{LIST}?since={tomorrow}")) == []
    assert len(ids(page(client, f"{LIST}?since=0001-01-01&until=9999-12-31"))) == 6


def test_the_filters_stay_in_the_form_and_in_every_link(client, tokens, logged):
    sign_in(client, tokens.raw["auditor"])
    query = "outcome=deny&as_of_from=2025-03-01&limit=2"
    html = page(client, f"{LIST}?{query}")
    assert '<option value="deny" selected>' in html
    assert 'id="q-as_of_from" name="as_of_from" value="2025-03-01"' in html
    assert names(logged, html) == ["b1", "a3"]
    assert html.count(f'?{query.replace("&", "&amp;")}" class="decision-link"') == 2
    assert f'href="/explorer/decisions.csv?{query.replace("&", "&amp;")}" id="csv"' in html


def test_paging_with_the_cursor_keeps_the_filters(client, tokens, logged):
    sign_in(client, tokens.raw["auditor"])
    seen, url = [], f"{LIST}?outcome=allow&limit=2"
    html = page(client, url)
    assert 'id="first-page"' not in html
    while True:
        seen += names(logged, html)
        found = re.search(r'href="([^"]+)" id="next-page"', html)
        if found is None:
            break
        url = found.group(1).replace("&amp;", "&")
        assert "outcome=allow" in url and "limit=2" in url and "cursor=" in url
        html = page(client, url)
        assert 'id="first-page"' in html
    assert seen == ["a5", "a4", "a2"]


@pytest.mark.parametrize(("query", "field", "message"), [
    ("as_of_from=2025-13-01", "as_of_from",
     "Date of the event, from: write the date as YYYY-MM-DD"),
    ("as_of_until=tomorrow", "as_of_until", "Date of the event, to: write the date as"),
    ("as_of_from=2025-05-01&as_of_until=2025-04-01", "as_of_from",
     "Date of the event, from: must not be later than «Date of the event, to»"),
    ("since=2025-02-30", "since", "Logged, from (UTC): write the date as YYYY-MM-DD"),
    ("until=x", "until", "Logged, to (UTC): write the date"),
    ("outcome=maybe", "outcome", "Outcome: choose allowed or denied"),
    ("pinned=yes", "pinned", "How the version was chosen: choose pinned or in force"),
    ("fired=ts%201", "fired", "Fired rule: not a rule id"),
    ("policy=a%20b", "policy", "Policy: not a name of a policy"),
    ("provider=123", "provider", "Service provider (Business ID): not a Business ID"),
    ("cursor=zz", "cursor", "Page: not a page of this list"),
    ("limit=0", "limit", "Decisions per page: give a number from 1 to 500"),
])
def test_a_bad_filter_is_a_400_naming_the_field(client, tokens, logged, query, field,
                                                message):
    sign_in(client, tokens.raw["auditor"])
    html = page(client, f"{LIST}?{query}&lang=en", status=400)
    assert message in html
    assert 'role="alert"' in html and 'id="decision-list"' not in html
    response = client.get(f"/explorer/decisions.csv?{query}&lang=en")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert message in response.get_data(as_text=True)


def test_a_bad_filter_is_said_in_the_pages_language(client, tokens, logged):
    sign_in(client, tokens.raw["auditor"])
    assert "Tapahtumapäivä alkaen: kirjoita päivämäärä muodossa VVVV-KK-PP" in page(
        client, f"{LIST}?as_of_from=1.3.2025&lang=fi", status=400)
    assert "Händelsedag från: skriv datumet som ÅÅÅÅ-MM-DD" in page(
        client, f"{LIST}?as_of_from=1.3.2025&lang=sv", status=400)


# --- one decision ---------------------------------------------------------------------------

def test_a_decision_page_is_a_bookmarkable_get(client, tokens, logged):
    url = f"/explorer/decisions/{logged['a1']}"
    page(client, url, status=401)
    sign_in(client, tokens.raw["auditor"])
    response = client.get(url)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert response.headers["Cache-Control"] == "no-store"
    assert "outcome-deny" in html and "TS-1-too-short" in html and "2025-01" in html
    assert HETU not in html and "(tiivistetty)" in html
    assert "/explorer/policies/tiny/versions/2025-01/actions/day#rule-TS-1-too-short" in html
    # what the version in force today would decide: prefilled, without the hashed code
    replay = re.search(r'href="([^"]+)" id="replay"', html).group(1).replace("&amp;", "&")
    assert "f.hours=5" in replay and "f.client" not in replay and "version=2025-06" in replay
    assert "as_of=2025-03-10" in replay
    assert 'value="5"' in page(client, replay)
    # the header's Authorization still works without a session
    other = client.application.test_client()
    page(other, url, headers=tokens["planner"])


def test_a_provider_reads_its_own_decisions_only(client, tokens, logged):
    sign_in(client, tokens.raw["provider"])
    page(client, f"/explorer/decisions/{logged['a1']}")
    html = page(client, f"/explorer/decisions/{logged['b1']}", status=403)
    assert "Tämä päätös on tehty toiselle palveluntuottajalle." in html
    html = page(client, f"/explorer/decisions/{logged['b1']}?lang=sv", status=403)
    assert "annan serviceproducent" in html


def test_other_roles_and_unknown_decisions(client, tokens, logged):
    sign_in(client, tokens.raw["ops"])
    page(client, f"/explorer/decisions/{logged['a1']}", status=403)
    sign_in(client, tokens.raw["planner"])
    page(client, "/explorer/decisions/01890000-0000-7000-8000-000000000000", status=404)
    page(client, "/explorer/decisions/not-an-id", status=404)


def test_back_from_a_decision_leads_to_the_filtered_list(client, tokens, logged):
    sign_in(client, tokens.raw["auditor"])
    query = "outcome=deny&as_of_from=2025-03-01"
    html = page(client, f"{LIST}?{query}")
    link = re.search(rf'href="([^"]+{logged["a1"]}[^"]*)"', html).group(1).replace("&amp;", "&")
    assert link == f"/explorer/decisions/{logged['a1']}?{query}"
    html = page(client, link)
    back = re.search(r'href="([^"]+)" id="back-to-list"', html).group(1).replace("&amp;", "&")
    assert back == f"{LIST}?{query}"
    assert names(logged, page(client, back)) == ["b1", "a3", "a1"]
    # opened from nowhere, back is the whole list
    html = page(client, f"/explorer/decisions/{logged['a1']}")
    assert f'href="{LIST}" id="back-to-list"' in html


# --- CSV ------------------------------------------------------------------------------------

def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="')
    text = response.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(LoggedDecisionSchema().fields)         # the header row
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_the_csv_is_the_filtered_list_as_the_api_returns_it(client, tokens, logged):
    sign_in(client, tokens.raw["auditor"])
    response = client.get("/explorer/decisions.csv?outcome=deny&as_of_from=2025-03-01")
    assert HETU not in response.get_data().decode("utf-8-sig")
    rows = read_csv(response)
    api = client.get("/v1/decisions?outcome=deny&as_of_from=2025-03-01",
                     headers=tokens["auditor"]).get_json()["decisions"]
    assert [r["decision_id"] for r in rows] == [d["decision_id"] for d in api] == [
        logged["b1"], logged["a3"], logged["a1"]]
    for row, decided in zip(rows, api, strict=True):
        assert json.loads(row["facts"]) == decided["facts"]
        assert json.loads(row["violations"]) == decided["violations"]
        assert row["outcome"] == decided["outcome"] and row["as_of"] == decided["as_of"]
        assert row["pinned"] == "false" and row["provider"] == decided["provider"]
    assert json.loads(rows[-1]["facts"])["client"].startswith("hetu#")


def test_the_csv_is_every_page_and_a_providers_own_only(client, tokens, logged):
    sign_in(client, tokens.raw["auditor"])
    assert len(read_csv(client.get("/explorer/decisions.csv?limit=1"))) == 6
    assert read_csv(client.get("/explorer/decisions.csv?policy=nope")) == []
    sign_in(client, tokens.raw["provider"])
    rows = read_csv(client.get(f"/explorer/decisions.csv?provider={PROVIDER_B}"))
    assert {r["provider"] for r in rows} == {PROVIDER_A} and len(rows) == 5


def test_the_csv_needs_a_reader(client, tokens, logged):
    assert client.get("/explorer/decisions.csv").status_code == 401
    sign_in(client, tokens.raw["ops"])
    assert client.get("/explorer/decisions.csv").status_code == 403


def test_a_personal_code_typed_into_a_filter_never_comes_back(client, tokens, logged):
    sign_in(client, tokens.raw["auditor"])
    for query in (f"action={HETU}", f"fired={HETU}", f"provider={HETU}",
                  f"as_of_from={HETU}"):
        response = client.get(f"{LIST}?{query}")
        assert response.status_code in (200, 400), query
        assert HETU not in response.get_data(as_text=True), query
    html = page(client, f"/explorer/decisions/{logged['a1']}?action={HETU}")
    assert HETU not in html


def _totals(html: str) -> list[int]:
    """The chart table's totals row: allowed, denied."""
    foot = html.split('<tfoot>')[1].split('</tfoot>')[0]
    return [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', foot)]


def _outcomes(client, headers) -> list[str]:
    listed = client.get("/v1/decisions?limit=100", headers=headers).get_json()["decisions"]
    return [d["outcome"] for d in listed]


def test_the_list_charts_its_outcomes_over_the_filtered_period(client, tokens, logged):
    every = _outcomes(client, tokens["auditor"])
    sign_in(client, tokens.raw["auditor"])
    html = page(client, LIST + "?lang=en")
    assert '<svg' in html and 'class="chart-table"' in html
    assert "Decisions by outcome per week" in html
    assert _totals(html) == [every.count("allow"), every.count("deny")]
    html = page(client, LIST + "?lang=en&outcome=deny&per=month")
    assert "Decisions by outcome per month" in html
    assert _totals(html) == [0, every.count("deny")]
    csv_link = re.search(r'<a href="([^"]+)" id="csv"', html).group(1)
    assert "per=month" in csv_link and "outcome=deny" in csv_link      # kept in the links
    # a provider's chart counts its own decisions only
    own = _outcomes(client, tokens["provider"])
    sign_in(client, tokens.raw["provider"])
    assert _totals(page(client, LIST)) == [own.count("allow"), own.count("deny")]
    assert sum(_totals(page(client, LIST))) == 5
