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
from tests.service.conftest import HETU, write_cases

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


def csrf(client) -> str:
    """The CSRF token of this client's forms (the sign-in page sets its cookie)."""
    html = client.get("/explorer/signin").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def post_form(client, url: str, data: dict, **kwargs):
    """A form sent as a browser sends it: with the CSRF token of its page."""
    return client.post(url, data={**data, "csrf_token": csrf(client)}, **kwargs)


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


# --- try it -------------------------------------------------------------------------------

def test_try_form_is_generated_from_the_facts(client):
    html = page(client, TRY)
    assert 'type="number"' in html and 'id="f-hours"' in html
    assert '<label for="f-hours">' in html and '<label for="f-client">' in html
    assert 'id="f-client"' in html and 'autocomplete="off"' in html
    assert '<label for="token">' in html and '<label for="as_of">' in html


def test_try_decides_without_logging(client, app):
    response = post_form(client, TRY, {"as_of": "2025-03-10", "f.hours": "5", "lang": "en"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "outcome-deny" in html and "TS-1-too-short" in html
    assert "Liian lyhyt päivä: 5 h &lt; 6 h" in html          # in the page's language
    assert 'class="trace"' in html                             # the trace, with its thresholds
    assert "<code>hours = 5 &lt; 6 (min_hours)</code>" in html
    assert app.extensions["rehab_rules"].log.count() == 0      # a what-if is never logged


def test_try_answers_first_and_the_browser_is_sent_to_the_answer(client):
    html = page(client, TRY)
    assert 'id="result"' not in html                          # no answer before a try
    assert f'action="{TRY}#result"' in html                   # the answer's anchor
    response = post_form(client, TRY, {"as_of": "2025-03-10", "f.hours": "5", "lang": "en"})
    html = response.get_data(as_text=True)
    section = re.search(r'<section [^>]*id="result"[^>]*>', html).group(0)
    assert 'tabindex="-1"' in section and "autofocus" in section
    assert html.index('id="result"') < html.index("<form method=\"post\"")
    assert html.index('id="result"') < html.index('id="f-hours"')
    # a refused try answers first as well, with what to correct
    response = post_form(client, TRY, {"as_of": "2025-03-10", "f.hours": "many"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    section = re.search(r'<section [^>]*id="result"[^>]*>', html).group(0)
    assert 'role="alert"' in section and "autofocus" in section
    assert html.index('id="result"') < html.index('id="f-hours"')


def test_try_says_which_version_decided_and_why(client):
    html = page(client, TRY + "?lang=en")                     # sets the language cookie
    html = post_form(client, TRY, {"as_of": "2025-03-10", "f.hours": "5"}).get_data(
        as_text=True)
    why = html.split('class="why-version">')[1].split("</p>")[0]
    assert "Decided under version 2025-01: the version in force on 10 Mar 2025." in why
    assert 'class="version-switch"' not in html               # the page's own version
    # the 2025-06 page, a date before 2025-06-01: 2025-01 decides, and the page says so
    other = TRY.replace("2025-01", "2025-06")
    html = post_form(client, other, {"as_of": "2025-03-10", "f.hours": "5"}).get_data(
        as_text=True)
    assert "the version in force on 10 Mar 2025" in html and "outcome-deny" in html
    switch = html.split('class="version-switch">')[1].split("</p>")[0]
    assert ("this is not version 2025-06, whose page you came from: version 2025-06 is not "
            "in force on 10 Mar 2025") in switch
    # pinned by the reader
    html = post_form(client, TRY, {"as_of": "2025-03-10", "f.hours": "5",
                                  "version": "2025-06"}).get_data(as_text=True)
    assert "Decided under version 2025-06: pinned by you" in html
    assert "this is not version 2025-01, whose page you came from, but the version you " \
        "chose" in html
    # and in Finnish
    html = post_form(client, TRY + "?lang=fi", {"as_of": "2025-03-10", "f.hours": "5"}
                       ).get_data(as_text=True)
    assert "Päätetty version 2025-01 mukaan: versio on voimassa 10.3.2025." in html


def test_try_shows_each_comparison_with_its_threshold(client):
    html = post_form(client, TRY + "?lang=en", {"as_of": "2025-03-10", "f.hours": "7",
                                               "f.client": HETU}).get_data(as_text=True)
    trace = html.split('class="trace"')[1].split("</table>")[0]
    row = trace.split("TS-1-too-short</a>")[1].split("</tr>")[0]
    assert "<code>hours = 7 &lt; 6 (min_hours)</code>" in row
    assert "✗ does not hold" in row and 'class="holds-no"' in row
    row = trace.split("TS-2-note</a>")[1].split("</tr>")[0]
    assert "<code>note = — is present</code>" in row and "✗ does not hold" in row
    html = post_form(client, TRY + "?lang=en", {"as_of": "2025-03-10", "f.hours": "5"}
                       ).get_data(as_text=True)
    row = html.split('class="trace"')[1].split("TS-1-too-short</a>")[1].split("</tr>")[0]
    assert "<code>hours = 5 &lt; 6 (min_hours)</code>" in row and "✓ holds" in row
    assert HETU not in html


def test_try_links_the_same_facts_under_every_other_version(client):
    html = post_form(client, TRY + "?lang=en", {"as_of": "2025-03-10", "f.hours": "5",
                                               "f.note": "x", "f.client": HETU}
                       ).get_data(as_text=True)
    block = html.split('class="elsewhere"')[1].split("</details>")[0]
    assert "Try these facts under another version" in block
    links = re.findall(r'<a href="([^"]+)" class="try-elsewhere">([^<]+)</a>', block)
    assert len(links) == 1                                    # 2025-01 itself decided
    href, text = links[0]
    assert text == "Try under version 2025-06 (in force from 1 Jun 2025)"
    assert href.startswith("/explorer/policies/tiny/versions/2025-06/actions/day/try?")
    assert "as_of=2025-03-10" in href and "version=2025-06" in href
    assert "f.hours=5" in href and "f.note=x" in href and "f.client" not in href
    # the link opens the other version's form with the facts filled in
    html = page(client, href.replace("&amp;", "&"))
    assert 'value="5"' in html and '<option value="2025-06" selected>' in html
    # no links without a decision
    assert 'class="elsewhere"' not in page(client, TRY)


def test_each_fixture_case_opens_in_try_it(client):
    html = page(client, ACTION + "?lang=en")
    rule = html.split('id="rule-TS-1-too-short"')[1].split('id="rule-TS-2-note"')[0]
    fired = rule.split('class="case-list fired"')[1].split("</ul>")[0]
    href = re.search(r'<a class="open-in-try" href="([^"]+)">Open in Try it', fired).group(1)
    href = href.replace("&amp;", "&")
    assert href == TRY + "?as_of=2025-03-10&version=2025-01&f.hours=5"
    silent = rule.split('class="case-list silent"')[1].split("</ul>")[0]
    assert "f.hours=7&amp;f.note=hello" in silent
    html = page(client, href)
    assert 'value="2025-03-10"' in html and 'value="5"' in html
    html = post_form(client, TRY, {"as_of": "2025-03-10", "f.hours": "5",
                                  "version": "2025-01"}).get_data(as_text=True)
    assert "outcome-deny" in html and "TS-1-too-short" in html


def test_try_under_a_pinned_version(client):
    html = post_form(client, TRY, {"as_of": "2025-03-10", "f.hours": "5.5",
                                  "version": "2025-06"}).get_data(as_text=True)
    assert "outcome-allow" in html and "2025-06" in html


def test_try_bad_input_shows_the_engines_messages_next_to_the_fields(client):
    response = post_form(client, TRY, {"as_of": "2025-13-40", "f.hours": "7"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    # the engine's problems in the page's language (the catalogue's fact_<code>)
    assert 'id="err-as_of"' in html and "anna päivämäärä muodossa VVVV-KK-PP" in html
    assert 'aria-describedby="err-as_of"' in html
    response = post_form(client, TRY, {"as_of": "2025-03-10", "f.hours": "many"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="err-hours"' in html and "pitää olla luku" in html
    assert 'value="many"' in html                 # what was typed stays, to be corrected
    response = post_form(client, TRY + "?lang=sv", {"as_of": "2025-03-10", "f.hours": "30"})
    assert response.status_code == 422
    assert "får vara högst 24" in response.get_data(as_text=True)
    response = post_form(client, TRY + "?lang=en", {"as_of": "2025-03-10", "f.hours": "30"})
    assert "must be at most 24" in response.get_data(as_text=True)
    response = post_form(client, TRY + "?lang=fi", {"as_of": "2025-03-10"})   # hours left out
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="err-hours"' in html
    assert "pakollinen (luku)" in html
    response = post_form(client, TRY, {"as_of": "1999-01-01", "f.hours": "7"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'role="alert"' in html
    assert "ei ole voimassa yhtään versiota 1.1.1999" in html


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
        response = post_form(client, TRY, {"as_of": "2025-03-10", "f.hours": blank})
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and 'id="err-hours"' in html, repr(blank)
        assert "required" in html and "must be a number" not in html, repr(blank)


def test_try_never_echoes_a_personal_identity_code(client):
    html = post_form(client, TRY, {"as_of": "2025-03-10", "f.hours": "7", "f.client": HETU,
                                  "f.note": f"about {HETU}"}).get_data(as_text=True)
    assert "outcome-allow" in html and "TS-2-note" in html
    assert HETU not in html
    # a mistyped code does not look like a henkilötunnus, and still does not come back
    html = post_form(client, TRY, {"as_of": "2025-03-10", "f.hours": "7",
                                  "f.client": "131052-308X"}).get_data(as_text=True)
    assert "131052-308X" not in html


def test_try_prefilled_from_the_query(client):
    html = page(client, TRY + "?as_of=2025-02-03&f.hours=4&f.note=x&version=2025-06")
    assert 'value="2025-02-03"' in html and 'value="4"' in html
    assert '<option value="2025-06" selected>' in html


def test_try_off_loopback_needs_a_deciders_token(client, app, tokens):
    app.config["EXPLORER_TRY_OPEN_ON_LOOPBACK"] = False
    data = {"as_of": "2025-03-10", "f.hours": "5"}
    response = post_form(client, TRY, data)
    assert response.status_code == 401 and 'id="err-token"' in response.get_data(as_text=True)
    response = post_form(client, TRY, {**data, "token": tokens.raw["auditor"]})
    assert response.status_code == 403
    response = post_form(client, TRY, {**data, "token": tokens.raw["provider"]})
    assert response.status_code == 200 and "outcome-deny" in response.get_data(as_text=True)
    response = post_form(client, TRY, data, headers=tokens["planner"])
    assert response.status_code == 200
    # loopback only: another address is not let in even with the setting on
    app.config["EXPLORER_TRY_OPEN_ON_LOOPBACK"] = True
    response = post_form(client, TRY, data, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 401


# --- access to the reading pages ------------------------------------------------------------

def test_closed_explorer_needs_a_token(client, app, tokens):
    app.config["EXPLORER_OPEN"] = False
    html = page(client, "/explorer", status=401)
    assert 'action="/explorer/signin"' in html and '<label for="token">' in html
    assert 'name="csrf_token"' in html
    page(client, ACTION, status=401)
    page(client, TRY, status=401)
    page(client, "/explorer", headers=tokens["ops"])            # any role may read
    response = post_form(client, "/explorer/signin", {"token": "rr_bad_token", "next": ACTION})
    assert response.status_code == 401
    response = post_form(client, "/explorer/signin", {"token": tokens.raw["provider"],
                                                      "next": ACTION})
    assert response.status_code == 303 and response.headers["Location"].endswith(ACTION)
    page(client, ACTION)
    post_form(client, "/explorer/signout", {})
    page(client, ACTION, status=401)
    # an outside redirect target is not followed
    response = post_form(client, "/explorer/signin", {"token": tokens.raw["provider"],
                                                      "next": "https://evil.example/"})
    assert response.headers["Location"].endswith("/explorer")


def test_pages_forbid_foreign_content(client):
    response = client.get("/explorer")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


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
    # the Finnish section title is marked Finnish on the Swedish page
    assert f'href="{TEXT_URL}#section-1" lang="fi">1 Päivän pituus</a>' in html
    assert "sections: [" not in html       # a link of its own, not the citation's data
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
    html = post_form(client, TRY, {"as_of": "2025-03-10", "f.hours": "5"}).get_data(
        as_text=True)
    assert f'href="{TEXT_URL}#section-1">1 Päivän pituus</a>' in html
    assert "sections: [" not in html       # a link of its own, not the citation's data


# --- the diff for people ------------------------------------------------------------------

def _later(version: str, effective: str, body: str) -> str:
    from tests.service.conftest import VERSION_2
    return VERSION_2.replace('version: "2025-06"', f'version: "{version}"').replace(
        "effective_from: 2025-06-01", f"effective_from: {effective}").replace(
        "  min_hours: 5\n", "  min_hours: 5\n  holidays: [new_year, midsummer, christmas]\n"
    ).replace("when: hours > 10", "when: hours > 10 and note in holidays") + body


@pytest.fixture
def more_versions(policies_dir: Path) -> Path:
    """2025-09 (a list parameter) and 2025-12: one word of a message, the list's items, the
    condition's operator, a new fact."""
    folder = policies_dir / "tiny"
    (folder / "2025-09.yaml").write_text(_later("2025-09", "2025-09-01", ""), encoding="utf-8")
    later = _later("2025-12", "2025-12-01", "").replace(
        "[new_year, midsummer, christmas]", "[new_year, christmas, easter]").replace(
        '"Liian lyhyt päivä: {hours} h < {min_hours} h"',
        '"Liian lyhyt työpäivä: {hours} h < {min_hours} h"').replace(
        "when: hours < min_hours", "when: hours <= min_hours").replace(
        "      note: {type: string, optional: true}\n",
        "      note: {type: string, optional: true}\n"
        "      goal: {type: boolean, default: false}\n")
    (folder / "2025-12.yaml").write_text(later, encoding="utf-8")
    for version, day in (("2025-09", "2025-09-10"), ("2025-12", "2025-12-10")):
        # publishing asks every rule of a policy with cases to be covered both ways
        cases = policies_dir.parent / "fixtures" / "tiny" / version
        cases.mkdir(parents=True, exist_ok=True)
        (cases / "day.yaml").write_text(
            "cases:\n"
            f"  - {{name: a short day, action: day, as_of: {day}, facts: {{hours: 4}},\n"
            "     expect: {outcome: deny, fired: [TS-1-too-short]}}\n"
            f"  - {{name: a long Christmas day, action: day, as_of: {day},\n"
            "     facts: {hours: 11, note: christmas},\n"
            "     expect: {outcome: allow, fired: [TS-3-long]}}\n", encoding="utf-8")
    return folder


def test_the_diff_puts_rules_first_then_parameters_facts_and_the_source(client):
    html = page(client, "/explorer/policies/tiny/diff?from=2025-01&to=2025-06&lang=en")
    order = [html.index(f'id="{h}"') for h in ("d-rules", "d-params")]
    assert order == sorted(order)
    html = page(client, "/explorer/policies/tiny/diff?from=2025-06&to=2025-01&lang=en")
    assert html.index('id="d-rules"') < html.index('id="d-params"')


def test_the_diff_marks_changed_words_and_list_items(more_versions, client):
    html = page(client, "/explorer/policies/tiny/diff?from=2025-09&to=2025-12&lang=en")
    assert html.index('id="d-rules"') < html.index('id="d-params"') < \
        html.index('id="d-actions"')
    rule = html.split('id="rules-TS-1-too-short"')[1].split("</table>")[0]
    # the condition: only the operator is marked, the rest of the text stays plain
    when = rule.split("<code>when</code>")[1].split("</tr>")[0]
    assert '<span class="words">hours <del class="w">&lt;</del> min_hours</span>' in when
    assert '<span class="words">hours <ins class="w">&lt;=</ins> min_hours</span>' in when
    # a message: the one word, not the whole cell
    message = rule.split("<code>message.fi</code>")[1].split("</tr>")[0]
    assert "Liian lyhyt <ins class=\"w\">työpäivä</ins>: {hours} h" in message
    assert "Liian lyhyt <del class=\"w\">päivä</del>: {hours} h" in message
    assert "<del>Liian" not in message and "<ins>Liian" not in message
    # a list: the items added and removed, not the lists whole
    param = html.split('id="param-holidays"')[1].split("</table>")[0]
    assert '<ul class="items removed"><li><del><code>midsummer</code></del></li></ul>' in param
    assert '<ul class="items added"><li><ins><code>easter</code></ins></li></ul>' in param
    assert "new_year" not in param
    assert "Items removed:" in param and "Items added:" in param
    # old and new labelled for a narrow screen, where they stack
    assert '<span class="side">Before (2025-09)</span>' in rule
    assert '<span class="side">After (2025-12)</span>' in rule


def test_a_try_under_an_older_version_leaves_out_the_new_facts_left_untouched(more_versions,
                                                                             client):
    url = "/explorer/policies/tiny/versions/2025-12/actions/day/try?lang=en"
    # 2025-10-01 is before 2025-12: 2025-09 decides, and it has no fact "goal"
    response = post_form(client, url, {"as_of": "2025-10-01", "f.hours": "5"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "Decided under version 2025-09: the version in force on 1 Oct 2025." in html
    left = html.split('class="left-out">')[1].split("</p>")[0]
    assert "version 2025-09 does not have these facts" in left and "<code>goal</code>" in left
    # a fact the reader did fill in is the reader's: the engine says it is unknown
    response = post_form(client, url, {"as_of": "2025-10-01", "f.hours": "5", "f.goal": "on"})
    assert response.status_code == 422
    assert 'id="err-goal"' in response.get_data(as_text=True)
    # under 2025-12 itself nothing is left out
    html = post_form(client, url, {"as_of": "2025-12-10", "f.hours": "5"}).get_data(
        as_text=True)
    assert 'class="left-out"' not in html and "outcome-deny" in html


LABELLED = """\
policy: named
version: "2025-01"
effective_from: 2025-01-01
title: {fi: Nimetty, sv: Namngiven, en: Named}
source: {document: Testikuvaus}
parameters:
  min_hours: 6
actions:
  day:
    title: {fi: Päivä, sv: Dag, en: Day}
    facts:
      hours: {type: number, min: 0, max: 24}
      place: {type: string, one_of: [home, site]}
    derive:
      short: hours < min_hours
rules:
  - id: TS-1-too-short
    action: day
    when: short and place == "site"
    effect: deny
    cite:
      seed: "000"
      section: "1"
      interpretation: {fi: Tulkinta suomeksi., sv: Tolkning på svenska., en: Reading in English.}
    message: {fi: "Lyhyt {hours}", sv: "Kort {hours}", en: "Short {hours}"}
labels:
  hours:
    label: {fi: Päivän pituus, sv: Dagens längd, en: Length of the day}
    help: {fi: Tunteina ilman matkoja., sv: I timmar utan resor., en: In hours without travel.}
  place:
    label: {fi: Paikka, sv: Plats, en: Place}
    values:
      home: {fi: koti, sv: hemmet, en: home}
      site: {fi: toimipiste, sv: verksamhetsstället, en: the site}
  short:
    label: {fi: Liian lyhyt, sv: För kort, en: Too short}
  min_hours:
    label: {fi: Vähimmäistunnit, sv: Minsta antal timmar, en: Minimum hours}
    help: {fi: Päivän vähimmäispituus., sv: Dagens minsta längd., en: The shortest day.}
"""


def test_the_action_page_names_facts_values_and_parameters_in_its_language(
        policies_dir, sqlite_url, tmp_path):
    """Labels with the identifier in small code beside them, help under them, values by
    their names, and the rule's interpretation in the page's language."""
    from tests.service.conftest import make_app
    folder = policies_dir / "named"
    folder.mkdir()
    (folder / "2025-01.yaml").write_text(LABELLED, encoding="utf-8")
    client = make_app(policies_dir, sqlite_url, tmp_path / "var").test_client()
    url = "/explorer/policies/named/versions/2025-01/actions/day"
    html = page(client, url + "?lang=sv")
    facts = html.split('class="facts-table"')[1].split("</table>")[0]
    assert "Dagens längd <small><code>hours</code></small>" in facts
    assert '<span class="hint">I timmar utan resor.</span>' in facts
    assert "hemmet <small><code>home</code></small>, verksamhetsstället <small><code>site" \
        in facts
    assert "För kort <small><code>short</code></small>" in html           # a derived value
    assert "Minsta antal timmar <small><code>min_hours</code></small>" in html
    assert "Dagens minsta längd." in html                                 # a parameter's help
    assert "Tolkning på svenska." in html and "Reading in English." not in html
    english = page(client, url + "?lang=en")
    assert "Length of the day <small><code>hours</code></small>" in english
    assert "Reading in English." in english and "Tolkning" not in english
    # the version page names its parameters too
    version = page(client, "/explorer/policies/named/versions/2025-01?lang=fi")
    assert "Vähimmäistunnit <small><code>min_hours</code></small>" in version
    # the tiny policy has no labels: its identifiers show as they always did
    assert "<code>hours</code></th>" in page(client, ACTION)


def _real_client(tmp_path):
    """A client of the app on the repository's real policies and fixtures."""
    from pathlib import Path

    from service import create_app
    from service.database import upgrade

    root = Path(__file__).resolve().parents[3]
    url = f"sqlite:///{tmp_path / 'log.db'}"
    upgrade(url)
    return create_app({"TESTING": True, "POLICIES_DIR": str(root / "policies"),
                       "FIXTURES_DIR": str(root / "fixtures"), "DATABASE_URL": url,
                       "VAR_DIR": str(tmp_path), "REHAB_RULES_HASH_KEY": "real-policies",
                       "POLICIES_BOOTSTRAP": True}).test_client()


def test_the_diff_shows_what_the_labels_changed(tmp_path):
    """The real work try-out policy: 2025-04 takes rehab_day_hours away and brings
    rehab_day_min_hours and longer_day_goal, each with its label."""
    html = page(_real_client(tmp_path), "/explorer/policies/tyokokeilu-tyohonvalmennus/diff"
                "?from=2023-01&to=2025-04&lang=en")
    section = html.split('id="d-labels"')[1].split("</section>")[0]
    assert "Labels and help" in section
    for name in ("rehab_day_hours", "rehab_day_min_hours", "longer_day_goal"):
        assert name in section
    # after the actions, before the title and source
    assert html.index('id="d-actions"') < html.index('id="d-labels"')


def test_try_names_facts_and_values_by_their_labels(tmp_path):
    client = _real_client(tmp_path)
    url = ("/explorer/policies/tyokokeilu-tyohonvalmennus/versions/2025-04/actions/rehab_day/"
           "try?lang={}")
    for lang in ("fi", "sv", "en"):
        html = page(client, url.format(lang))
        store = client.application.extensions["rehab_rules"].policies.current()
        version = store.get_version("tyokokeilu-tyohonvalmennus", "2025-04")
        label = version.label_of("hours_total", lang)
        assert label != "hours_total"
        assert f'{label} <small><code>hours_total</code></small>' in html
        name = version.option_name("service", "tyokokeilu", lang)
        assert name != "tyokokeilu"
        assert f'<option value="tyokokeilu" >{name}</option>' in html
