"""The policy explorer's pages through Flask's test client (service/explorer/views.py).

On the tiny policy of conftest.py, with two fixture cases written beside it, so what a page
shows can be checked exactly; the real policies are used by the browser tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.model import ActionSpec, FactSpec
from service.explorer.catalogue import LABELS
from service.explorer.views import facts_from_form
from tests.service.conftest import HETU, decision_body, write_cases

TRY = "/explorer/policies/tiny/versions/2025-01/actions/day/try"
ACTION = "/explorer/policies/tiny/versions/2025-01/actions/day"

FIXTURES = """\
cases:
  - name: a short day
    action: day
    as_of: 2025-03-10
    facts: {hours: 5}
    expect: {outcome: deny, fired: [TS-1-too-short]}
  - name: a full day with a note
    action: day
    as_of: 2025-03-10
    facts: {hours: 7, note: hello}
    expect: {outcome: allow, fired: [TS-2-note]}
"""


@pytest.fixture(autouse=True)
def fixture_cases(policies_dir: Path) -> Path:
    """Cases for 2025-01 in ``fixtures/`` beside ``policies/`` (FIXTURES_DIR's default), and
    for 2025-06, which publishing asks for (every rule of a policy with cases covered)."""
    write_cases(policies_dir.parent / "fixtures", ("2025-06",))
    folder = policies_dir.parent / "fixtures" / "tiny" / "2025-01"
    folder.mkdir(parents=True)
    (folder / "day.yaml").write_text(FIXTURES, encoding="utf-8")
    return folder


def page(client, url: str, status: int = 200, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_root_redirects_to_the_explorer_which_is_not_in_the_openapi_document(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/explorer")
    paths = client.get("/openapi.json").get_json()["paths"]
    assert not [p for p in paths if p.startswith("/explorer") or p == "/"]


def test_index_lists_policies_with_versions(client):
    html = page(client, "/explorer")
    assert '<html lang="fi">' in html
    assert "Pieni" in html and "/explorer/policies/tiny" in html
    assert "2025-06" in html and "2025-01" in html
    # no CDN, no script from anywhere
    assert "<script" not in html and "https://" not in html
    assert "/explorer/static/explorer.css" in html


def test_policy_page_shows_versions_dates_digest_and_actions(client):
    html = page(client, "/explorer/policies/tiny")
    assert "2025-06-01" in html and "2025-01-01" in html
    assert re.search(r'class="digest">sha256:[0-9a-f]{64}<', html)
    assert ACTION in html
    assert 'name="from"' in html and 'name="to"' in html     # the diff form


def test_version_page_renders_parameters(client):
    html = page(client, "/explorer/policies/tiny/versions/2025-06")
    assert "<code>min_hours</code>" in html and "<td>5</td>" in html
    assert "Testikuvaus" in html


def test_action_page_facts_rules_citations_and_fixture_cases(client):
    html = page(client, ACTION + "?lang=en")
    # facts with type and limits, the personal one marked
    assert "<code>hours</code>" in html and "≥ 0" in html and "≤ 24" in html
    assert "personal identity code" in html
    # rules in order, with anchors, conditions as written, messages in all languages
    assert html.index('id="rule-TS-1-too-short"') < html.index('id="rule-TS-2-note"')
    assert "hours &lt; min_hours" in html
    assert "Liian lyhyt päivä" in html and "För kort dag" in html and "Day too short" in html
    # the fixture cases, with file:line, fired and silent
    rule = html.split('id="rule-TS-1-too-short"')[1].split('id="rule-TS-2-note"')[0]
    assert "Fires in 1, Silent in 1" in rule
    fired = rule.split('class="case-list fired"')[1].split("</ul>")[0]
    assert "a short day" in fired and "fixtures/tiny/2025-01/day.yaml:2" in fired
    silent = rule.split('class="case-list silent"')[1].split("</ul>")[0]
    assert "a full day with a note" in silent and "day.yaml:7" in silent


def test_interpretation_is_marked(client, app):
    """A citation's interpretation note gets its own, visible block."""
    from service.explorer.views import shape
    assert shape({"a": {"x": 1}})["kind"] == "table"
    html = page(client, "/explorer/policies/tiny/versions/2025-01/actions/day")
    assert 'class="interpretation"' not in html        # the tiny policy has none
    with app.test_request_context("/explorer"):
        from flask import render_template_string
        out = render_template_string(
            '{% from "explorer/macros.html" import cite with context %}{{ cite(c) }}',
            c={"seed": "004", "section": "4.2", "interpretation": "our reading"},
            labels=LABELS["en"])
    assert 'class="interpretation"' in out and "Interpretation:" in out


def test_language_is_chosen_by_query_and_remembered(client):
    html = page(client, "/explorer?lang=sv")
    assert '<html lang="sv">' in html and "Regelverk" in html and "Liten" in html
    cookie = client.get_cookie("explorer_lang")
    assert cookie is not None and cookie.value == "sv"
    html = page(client, "/explorer/policies/tiny")
    assert '<html lang="sv">' in html and "Gäller från" in html
    html = page(client, "/explorer?lang=en")
    assert '<html lang="en">' in html and "Tiny" in html
    # an unknown language changes nothing
    assert '<html lang="en">' in page(client, "/explorer?lang=de")


def test_labels_exist_in_every_language():
    assert set(LABELS["fi"]) == set(LABELS["sv"]) == set(LABELS["en"])


def test_browser_language_is_the_first_guess(client):
    html = page(client, "/explorer", headers={"Accept-Language": "sv-FI,sv;q=0.9"})
    assert '<html lang="sv">' in html


def test_diff_page_highlights_changes_cell_by_cell(client):
    html = page(client, "/explorer/policies/tiny/diff?from=2025-01&to=2025-06&lang=en")
    assert "2025-01-01" in html and "2025-06-01" in html
    assert '<div class="diff-item diff-changed" id="param-min_hours">' in html
    param = html.split('id="param-min_hours"')[1].split("</table>")[0]
    assert '<tr class="diff-changed">' in param
    assert "<del>6</del>" in param and "<ins>5</ins>" in param
    assert re.search(r'class="diff-item diff-removed" id="rules-TS-2-note"', html)
    assert re.search(r'class="diff-item diff-added" id="rules-TS-3-long"', html)
    # a rule id links to its rule on the action page of the version that has it
    assert "/explorer/policies/tiny/versions/2025-06/actions/day#rule-TS-3-long" in html
    assert "/explorer/policies/tiny/versions/2025-01/actions/day#rule-TS-2-note" in html


@pytest.mark.parametrize("url", [
    "/explorer/policies/nope",
    "/explorer/policies/nope/versions/2025-01",
    "/explorer/policies/tiny/versions/1999-01",
    "/explorer/policies/tiny/versions/2025-01/actions/nope",
    "/explorer/policies/tiny/versions/2025-01/actions/nope/try",
    "/explorer/policies/tiny/diff?from=2025-01&to=1999-01",
    "/explorer/policies/nope/diff",
])
def test_unknown_things_are_html_404s(client, url):
    html = page(client, url, status=404)
    assert "Ei löytynyt" in html


def test_unknown_decision_is_404_for_an_auditor(client, tokens):
    page(client, "/explorer/decisions/01890000-0000-7000-8000-000000000000", status=404,
         headers=tokens["auditor"])
    page(client, "/explorer/decisions/not-an-id", status=404, headers=tokens["planner"])


# --- try it -------------------------------------------------------------------------------

def test_try_form_is_generated_from_the_facts(client):
    html = page(client, TRY)
    assert 'type="number"' in html and 'id="f-hours"' in html
    assert '<label for="f-hours">' in html and '<label for="f-client">' in html
    assert 'id="f-client"' in html and 'autocomplete="off"' in html
    assert '<label for="token">' in html and '<label for="as_of">' in html


def test_try_decides_without_logging(client, app):
    response = client.post(TRY, data={"as_of": "2025-03-10", "f.hours": "5", "lang": "en"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "outcome-deny" in html and "TS-1-too-short" in html
    assert "Liian lyhyt päivä: 5 h &lt; 6 h" in html          # in the page's language
    assert 'class="trace"' in html and "hours=5" in html       # the trace, with values read
    assert app.extensions["rehab_rules"].log.count() == 0      # a what-if is never logged


def test_try_under_a_pinned_version(client):
    html = client.post(TRY, data={"as_of": "2025-03-10", "f.hours": "5.5",
                                  "version": "2025-06"}).get_data(as_text=True)
    assert "outcome-allow" in html and "2025-06" in html


def test_try_bad_input_shows_the_engines_messages_next_to_the_fields(client):
    response = client.post(TRY, data={"as_of": "2025-13-40", "f.hours": "7"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="err-as_of"' in html and "YYYY-MM-DD" in html
    assert 'aria-describedby="err-as_of"' in html
    response = client.post(TRY, data={"as_of": "2025-03-10", "f.hours": "many"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="err-hours"' in html and "must be a number" in html
    assert 'value="many"' in html                 # what was typed stays, to be corrected
    response = client.post(TRY, data={"as_of": "2025-03-10", "f.hours": "30"})
    assert response.status_code == 422
    assert "must be at most 24" in response.get_data(as_text=True)
    response = client.post(TRY, data={"as_of": "2025-03-10"})       # hours left out
    assert response.status_code == 422 and 'id="err-hours"' in response.get_data(as_text=True)
    response = client.post(TRY, data={"as_of": "1999-01-01", "f.hours": "7"})
    assert response.status_code == 422 and 'role="alert"' in response.get_data(as_text=True)


def test_a_field_of_invisible_characters_is_a_fact_left_out(client):
    """A field is empty when it is blank in the engine's sense (engine.invisible.is_blank),
    not only when it is spaces: the form never sends what the engine would call blank."""
    action = ActionSpec(name="day", title={"fi": "P", "sv": "D", "en": "D"}, derived=(), facts={
        "hours": FactSpec("hours", "number"),
        "note": FactSpec("note", "string", required=False),
        "codes": FactSpec("codes", "list", items="string", required=False)})
    form = {"f.hours": "\u200b", "f.note": " \u3164\u034f\u00a0", "f.codes": "a\n\u200b\n \nb"}
    assert facts_from_form(action, form) == {"codes": ["a", "b"]}
    for blank in ("", "  ", "\u200b\ufeff", "\u2060\u3000"):     # hours left out, each time
        response = client.post(TRY, data={"as_of": "2025-03-10", "f.hours": blank})
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and 'id="err-hours"' in html, repr(blank)
        assert "required" in html and "must be a number" not in html, repr(blank)


def test_try_never_echoes_a_personal_identity_code(client):
    html = client.post(TRY, data={"as_of": "2025-03-10", "f.hours": "7", "f.client": HETU,
                                  "f.note": f"about {HETU}"}).get_data(as_text=True)
    assert "outcome-allow" in html and "TS-2-note" in html
    assert HETU not in html
    # a mistyped code does not look like a henkilötunnus, and still does not come back
    html = client.post(TRY, data={"as_of": "2025-03-10", "f.hours": "7",
                                  "f.client": "131052-308X"}).get_data(as_text=True)
    assert "131052-308X" not in html


def test_try_prefilled_from_the_query(client):
    html = page(client, TRY + "?as_of=2025-02-03&f.hours=4&f.note=x&version=2025-06")
    assert 'value="2025-02-03"' in html and 'value="4"' in html
    assert '<option value="2025-06" selected>' in html


def test_try_off_loopback_needs_a_deciders_token(client, app, tokens):
    app.config["EXPLORER_TRY_OPEN_ON_LOOPBACK"] = False
    data = {"as_of": "2025-03-10", "f.hours": "5"}
    response = client.post(TRY, data=data)
    assert response.status_code == 401 and 'id="err-token"' in response.get_data(as_text=True)
    response = client.post(TRY, data={**data, "token": tokens.raw["auditor"]})
    assert response.status_code == 403
    response = client.post(TRY, data={**data, "token": tokens.raw["provider"]})
    assert response.status_code == 200 and "outcome-deny" in response.get_data(as_text=True)
    response = client.post(TRY, data=data, headers=tokens["planner"])
    assert response.status_code == 200
    # loopback only: another address is not let in even with the setting on
    app.config["EXPLORER_TRY_OPEN_ON_LOOPBACK"] = True
    response = client.post(TRY, data=data, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 401


# --- access to the reading pages ------------------------------------------------------------

def test_closed_explorer_needs_a_token(client, app, tokens):
    app.config["EXPLORER_OPEN"] = False
    html = page(client, "/explorer", status=401)
    assert 'action="/explorer/login"' in html and '<label for="token">' in html
    page(client, ACTION, status=401)
    page(client, TRY, status=401)
    page(client, "/explorer", headers=tokens["ops"])            # any role may read
    response = client.post("/explorer/login", data={"token": "rr_bad_token", "next": ACTION})
    assert response.status_code == 401
    response = client.post("/explorer/login", data={"token": tokens.raw["provider"],
                                                    "next": ACTION})
    assert response.status_code == 302 and response.headers["Location"].endswith(ACTION)
    cookie = client.get_cookie("explorer_token", path="/explorer")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    page(client, ACTION)
    client.post("/explorer/logout")
    page(client, ACTION, status=401)
    # an outside redirect target is not followed
    response = client.post("/explorer/login", data={"token": tokens.raw["provider"],
                                                    "next": "https://evil.example/"})
    assert response.headers["Location"].endswith("/explorer")


def test_pages_forbid_foreign_content(client):
    response = client.get("/explorer")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


# --- a logged decision ----------------------------------------------------------------------

@pytest.fixture
def logged(client, tokens) -> str:
    body = decision_body(facts={"hours": 5, "client": HETU})
    response = client.post("/v1/decisions", json=body, headers=tokens["provider"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["decision_id"]


def test_decision_page_asks_for_a_token(client, logged):
    html = page(client, f"/explorer/decisions/{logged}", status=401)
    assert '<label for="token">' in html and 'method="post"' in html
    response = client.post(f"/explorer/decisions/{logged}", data={"token": "rr_x_y"})
    assert response.status_code == 401


def test_decision_page_for_auditors_and_planners(client, tokens, logged):
    response = client.post(f"/explorer/decisions/{logged}",
                           data={"token": tokens.raw["auditor"]})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert response.headers["Cache-Control"] == "no-store"
    assert "outcome-deny" in html and "TS-1-too-short" in html and "2025-01" in html
    assert HETU not in html and "(tiivistetty)" in html
    # the rules of the action, which fired, linked to their anchors
    assert "/explorer/policies/tiny/versions/2025-01/actions/day#rule-TS-1-too-short" in html
    # what the version in force today would decide: prefilled, without the hashed code
    replay = re.search(r'href="([^"]+)" id="replay"', html).group(1).replace("&amp;", "&")
    assert "f.hours=5" in replay and "f.client" not in replay and "version=2025-06" in replay
    assert "as_of=2025-03-10" in replay
    html = page(client, replay)
    assert 'value="5"' in html
    page(client, f"/explorer/decisions/{logged}", headers=tokens["planner"])


def test_decision_page_refuses_providers(client, tokens, logged):
    page(client, f"/explorer/decisions/{logged}", status=403, headers=tokens["provider"])
    response = client.post(f"/explorer/decisions/{logged}",
                           data={"token": tokens.raw["ops"]})
    assert response.status_code == 403


def test_a_source_url_is_a_link_only_when_it_is_http_or_https(client, app, policies_dir,
                                                              tokens):
    """A ``javascript:`` or ``data:`` URL from a policy file is shown as text, never linked
    (the schema's own http(s) check is the engine's; the page does not rely on it)."""
    from service.explorer.views import web_url

    assert web_url("https://www.kela.fi/x") and web_url("HTTP://kela.fi")
    for bad in ("javascript:alert(1)", "JavaScript:alert(1)", " javascript:x", "data:text/html,x",
                "file:///etc/passwd", "//kela.fi", "kela.fi", "http://", "http:///x", None, 3,
                "http://[::1"):
        assert not web_url(bad), bad
    path = policies_dir / "tiny" / "2025-01.yaml"
    for url, linked in (("https://www.kela.fi/palvelukuvaukset", True),
                        ("javascript:alert(document.cookie)", False)):
        text = path.read_text(encoding="utf-8").split("source:")[0]
        rest = path.read_text(encoding="utf-8").split("\n", 1)[1].split("source:", 1)[1]
        rest = rest.split("\n", 1)[1]
        path.write_text(f"{text}source: {{document: Testikuvaus, url: \"{url}\"}}\n{rest}",
                        encoding="utf-8")
        response = client.post("/v1/admin/reload", headers=tokens["planner"])
        if response.status_code == 422:         # the engine refuses it: nothing to render
            assert not linked
            continue
        html = page(client, "/explorer/policies/tiny/versions/2025-01")
        assert url in html
        assert (f'href="{url}"' in html) is linked


# --- the service description's text -------------------------------------------------------------

TEXT_1 = """\
# Pieni palvelukuvaus

## 1 Päivän pituus

Päivä on vähintään 6 tuntia.

## 2 Huomautus

Huomautus kirjataan.

## 3 Yhteystiedot
<!-- no rule: contact information -->

Kela.
"""
# 2025-06: the minimum drops to 5 h, TS-2 (section 2) goes, TS-3 (section 3) arrives
TEXT_2 = """\
# Pieni palvelukuvaus

## 1 Päivän pituus

Päivä on vähintään 5 tuntia.

## 3 Pitkä päivä

Yli 10 tunnin päivä on pitkä.
"""
TEXT_URL = "/explorer/policies/tiny/versions/2025-01/text"


@pytest.fixture
def tiny_texts(policies_dir: Path) -> Path:
    """Texts for both tiny versions, written before the app publishes the folder."""
    (policies_dir / "tiny" / "2025-01.fi.md").write_text(TEXT_1, encoding="utf-8")
    (policies_dir / "tiny" / "2025-06.fi.md").write_text(TEXT_2, encoding="utf-8")
    return policies_dir


def test_the_text_page_shows_each_section_with_its_rules_in_the_margin(tiny_texts, client):
    html = page(client, TEXT_URL + "?lang=en")
    assert "Service description text" in html
    assert "3 sections: 2 with a rule resting on them, 1 needing no rule, 0 with neither." in html
    assert 'id="section-1"' in html and "Päivä on vähintään 6 tuntia." in html
    assert f'href="{ACTION}#rule-TS-1-too-short">TS-1-too-short</a>' in html
    assert "<strong>No rule:</strong> contact information" in html
    assert "The text is shown in Finnish, as Kela publishes it." in html
    assert 'lang="fi"' in html


def test_a_rule_links_to_its_section_and_the_version_page_to_the_text(tiny_texts, client):
    html = page(client, ACTION + "?lang=sv")
    assert f'href="{TEXT_URL}#section-1">1 Päivän pituus</a>' in html
    assert "Avsnittet i texten" in html
    html = page(client, "/explorer/policies/tiny/versions/2025-01")
    assert f'href="{TEXT_URL}">2025-01.fi.md</a>' in html


def test_a_version_without_a_text_has_no_text_page(client):
    page(client, TEXT_URL, status=404)
    assert "section-link" not in page(client, ACTION)


def test_the_diff_shows_the_changed_sections_beside_the_rules_resting_on_them(tiny_texts,
                                                                               client):
    html = page(client, "/explorer/policies/tiny/diff?from=2025-01&to=2025-06&lang=en")
    assert "Changed sections of the service description" in html
    block = html.split('id="d-text"')[1].split("</section>")[0]
    assert 'id="text-1"' in block and "<del>6</del>" in block and "<ins>5</ins>" in block
    assert "TS-1-too-short</a> <span class=\"kind\">unchanged</span>" in block
    assert 'id="text-2"' in block and "TS-2-note</a> <span class=\"kind\">removed</span>" in block
    assert "<code>min_hours</code>" in block
    assert 'id="text-3"' in block and "<del>Kela.</del>" in block


def test_try_it_links_each_finding_to_its_section(tiny_texts, client):
    html = client.post(TRY, data={"as_of": "2025-03-10", "f.hours": "5"}).get_data(
        as_text=True)
    assert f'href="{TEXT_URL}#section-1">1 Päivän pituus</a>' in html
