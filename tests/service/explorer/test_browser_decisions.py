"""The decision log's pages in a real headless Chromium, against a real HTTP server.

What an auditor does: sign in once, filter the denials of TT-1-day-length by the event's date,
open one decision from the list, go Back to the same filtered list, take the CSV; then what a
provider does: sign in and see only its own decisions. Decisions are logged first through
the API with tokens made by the service's token store, on the repository's real policies.
Screenshots of the list and of a decision page go to ``var/screenshots/``.

Debian's ``chromium`` and ``chromium-driver``, as in test_browser.py (fixtures copied from
there); without them the tests are skipped, except in CI.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from service import create_app
from tests.service.conftest import PROVIDER_A, PROVIDER_B

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = ROOT / "var" / "screenshots"
WAIT = 30
POLICY = "tyokokeilu-tyohonvalmennus"
RULE = "TT-1-day-length"

pytestmark = pytest.mark.slow

_IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_MISSING = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
if _MISSING and not _IN_CI:
    pytest.skip(f"not in CI and {', '.join(_MISSING)} missing: install Debian's chromium and "
                "chromium-driver (make test does)", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture
def served(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """The app on the real policies, served by werkzeug in a thread on a free port."""
    from werkzeug.serving import make_server

    app = create_app({
        "POLICIES_DIR": str(ROOT / "policies"),
        "FIXTURES_DIR": str(ROOT / "fixtures"),
        "DATABASE_URL": sqlite_url,
        "VAR_DIR": str(tmp_path / "var"),
        "REHAB_RULES_HASH_KEY": "browser-test",
        "POLICIES_BOOTSTRAP": True,
    })
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=WAIT)
        server.server_close()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile, the local driver, no network of its own."""
    profile = tempfile.mkdtemp(prefix="rr-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = None
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(WAIT)
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def shot(driver: webdriver.Chrome, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, min(max(int(height) + 120, 600), 4000))
    driver.save_screenshot(str(path))
    driver.set_window_size(width, 900)
    return path


def wait_for(driver: webdriver.Chrome, css: str):
    return WebDriverWait(driver, WAIT).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def listed(driver: webdriver.Chrome) -> list[str]:
    return [row.get_attribute("data-decision") for row in
            driver.find_elements(By.CSS_SELECTOR, "#decision-list tbody tr")]


def same_list(url: str, other: str) -> bool:
    """The same path and the same non-empty filters."""
    a, b = urlsplit(url), urlsplit(other)
    return a.path == b.path and parse_qs(a.query) == parse_qs(b.query)


def log_decisions(app) -> tuple[dict[str, str], dict[str, str]]:
    """Five rehabilitation days through the API; the tokens of an auditor and provider A."""
    store = app.extensions["rehab_rules"].tokens
    raw = {"auditor": store.create("auditor", None, "auditor")[0],
           "a": store.create("provider", PROVIDER_A, "A")[0],
           "b": store.create("provider", PROVIDER_B, "B")[0]}
    client = app.test_client()
    made = {}
    for name, who, as_of, total, at_work in (
            ("a_denied", "a", "2025-03-10", 7, 6),          # TT-1-day-length, in March
            ("a_early", "a", "2024-05-13", 5, 5),           # TT-1-day-length, not in March
            ("a_other", "a", "2025-03-12", 6, 4.5),         # another rule denies
            ("a_allowed", "a", "2025-03-11", 6, 5),
            ("b_denied", "b", "2025-03-11", 7, 6)):         # TT-1-day-length, provider B
        response = client.post("/v1/decisions", headers={"Authorization": f"Bearer {raw[who]}"},
                               json={"policy": POLICY, "action": "rehab_day", "as_of": as_of,
                                     "facts": {"service": "tyokokeilu", "hours_total": total,
                                               "hours_at_workplace": at_work}})
        assert response.status_code == 200, response.get_json()
        made[name] = response.get_json()["decision_id"]
    return made, raw


def sign_in(driver: webdriver.Chrome, token: str) -> None:
    """On a page with the sign-in form (the sign-in page, or a 401 page): type and send."""
    field = wait_for(driver, "input#token")
    field.send_keys(token)
    field.submit()


def test_an_auditor_filters_opens_goes_back_and_exports(browser, served):
    base_url, app = served
    made, raw = log_decisions(app)

    browser.get(f"{base_url}/explorer?lang=en")
    browser.find_element(By.ID, "nav-decisions").click()
    assert "Sign in as an auditor" in wait_for(browser, "main").text     # asked to sign in
    sign_in(browser, raw["auditor"])
    wait_for(browser, "#decision-list")
    assert browser.current_url.endswith("/explorer/decisions")
    assert len(listed(browser)) == 5
    assert "auditor" in browser.find_element(By.CSS_SELECTOR, "header .who").text

    # the denials of one rule by the event's date
    Select(browser.find_element(By.ID, "q-outcome")).select_by_value("deny")
    browser.find_element(By.ID, "q-fired").send_keys(RULE)
    for field, day in (("q-as_of_from", "2025-03-01"), ("q-as_of_until", "2025-03-31")):
        # a date input's typing order depends on the locale; set the ISO value directly
        browser.execute_script("arguments[0].value = arguments[1]",
                               browser.find_element(By.ID, field), day)
    browser.find_element(By.ID, "apply-filters").click()
    WebDriverWait(browser, WAIT).until(lambda d: "fired=" in d.current_url)
    wait_for(browser, "#decision-list")
    filtered_url = browser.current_url
    assert listed(browser) == [made["b_denied"], made["a_denied"]]
    for row in browser.find_elements(By.CSS_SELECTOR, "#decision-list tbody tr"):
        assert RULE in row.text and "denied" in row.text
    shot(browser, "explorer-decisions-en")

    # one decision, then Back to the same filtered list
    browser.find_element(
        By.CSS_SELECTOR, f'tr[data-decision="{made["a_denied"]}"] a.decision-link').click()
    heading = wait_for(browser, "main h1")
    assert made["a_denied"] in heading.text
    fired = browser.find_elements(By.CSS_SELECTOR, "table.trace tr.fired th a")
    assert RULE in [a.text for a in fired]
    assert PROVIDER_A in browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    shot(browser, "explorer-decision-en")
    back_link = browser.find_element(By.ID, "back-to-list").get_attribute("href")
    assert same_list(back_link, filtered_url)       # the form's empty fields left out

    browser.back()
    WebDriverWait(browser, WAIT).until(lambda d: d.current_url == filtered_url)
    wait_for(browser, "#decision-list")
    assert listed(browser) == [made["b_denied"], made["a_denied"]]
    assert browser.find_element(By.ID, "q-fired").get_attribute("value") == RULE
    assert browser.find_element(By.ID, "q-as_of_from").get_attribute("value") == "2025-03-01"

    # the CSV of the same filters, fetched with this browser's session cookie
    href = browser.find_element(By.ID, "csv").get_attribute("href")
    assert same_list(href.replace("/decisions.csv", "/decisions"), filtered_url)
    session = browser.get_cookie("explorer_session")
    assert session is not None and session["httpOnly"]
    request = urllib.request.Request(
        href, headers={"Cookie": f"explorer_session={session['value']}"})
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        assert response.headers["Content-Disposition"].startswith("attachment;")
        text = response.read().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["decision_id"] for r in rows] == [made["b_denied"], made["a_denied"]]
    assert all(RULE in r["fired"] and r["outcome"] == "deny" for r in rows)


def test_a_provider_sees_only_its_own(browser, served):
    base_url, app = served
    made, raw = log_decisions(app)

    browser.get(f"{base_url}/explorer/signin?lang=en&next=/explorer/decisions")
    sign_in(browser, raw["a"])
    wait_for(browser, "#decision-list")
    assert sorted(listed(browser)) == sorted(
        v for k, v in made.items() if k.startswith("a_"))
    assert not browser.find_elements(By.ID, "q-provider")        # no provider filter
    assert PROVIDER_B not in browser.find_element(By.TAG_NAME, "main").text

    browser.get(f"{base_url}/explorer/decisions/{made['a_denied']}")
    assert made["a_denied"] in wait_for(browser, "main h1").text
    browser.get(f"{base_url}/explorer/decisions/{made['b_denied']}")
    assert "another service provider" in wait_for(browser, "main").text

    # signing out ends it: the list asks to sign in again
    browser.find_element(By.CSS_SELECTOR, "form.signout button").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.current_url.endswith("/explorer"))
    browser.get(f"{base_url}/explorer/decisions")
    assert "Sign in as an auditor" in wait_for(browser, "main").text
