"""The policy explorer in a real headless Chromium, against a real HTTP server on a free port.

What a person does: open the explorer, switch to Swedish, compare two versions of the
work try-out policy and find the TT-1 change, then try a 7-hour day with 6 hours at the
workplace on 2025-03-10 and read the denial with its citation. Uses the repository's real
``policies/`` and ``fixtures/``. Screenshots (desktop and 320 px wide) go to
``var/screenshots/`` for a person to look at.

Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them). Selenium is
given the driver's path, so selenium-manager never runs and nothing is downloaded. Without
Chromium the tests are skipped, except in CI (``CI=true``), where they must run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import create_app

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = ROOT / "var" / "screenshots"
WAIT = 30
POLICY = "tyokokeilu-tyohonvalmennus"

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
def base_url(sqlite_url: str, tmp_path: Path) -> Iterator[str]:
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
        yield f"http://127.0.0.1:{server.server_port}"
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
    return path


def narrow(driver: webdriver.Chrome) -> None:
    """320 CSS pixels wide; the page itself must not scroll sideways (tables may)."""
    driver.set_window_size(320, 800)
    WebDriverWait(driver, WAIT).until(
        lambda d: d.execute_script("return window.innerWidth") <= 320)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow} px wider than a 320 px screen"


def wait_for(driver: webdriver.Chrome, css: str):
    return WebDriverWait(driver, WAIT).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def test_swedish_diff_shows_the_tt1_change(browser, base_url):
    browser.get(f"{base_url}/")
    wait_for(browser, "main h1")
    assert browser.current_url.endswith("/explorer")
    shot(browser, "explorer-index-fi")

    browser.find_element(By.CSS_SELECTOR, 'nav.langs a[hreflang="sv"]').click()
    WebDriverWait(browser, WAIT).until(
        lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "sv")
    assert browser.find_element(By.CSS_SELECTOR, "main h1").text == "Regelverk"

    browser.find_element(By.CSS_SELECTOR, f'a[href="/explorer/policies/{POLICY}"]').click()
    wait_for(browser, "#diff-from")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "sv"
    Select(browser.find_element(By.ID, "diff-from")).select_by_value("2023-01")
    Select(browser.find_element(By.ID, "diff-to")).select_by_value("2025-04")
    browser.find_element(By.CSS_SELECTOR, "form.inline button[type=submit]").click()

    change = wait_for(browser, "#rules-TT-1-day-length")
    assert "diff-changed" in change.get_attribute("class")
    assert "ändrad" in change.text.lower()               # the Swedish word for "changed"
    assert "rehab_day_min_hours" in change.text          # the condition's new parameter
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "sv"
    assert "Skillnader" in browser.find_element(By.CSS_SELECTOR, "main h1").text
    removed = browser.find_element(By.ID, "param-rehab_day_hours")
    assert "diff-removed" in removed.get_attribute("class")
    shot(browser, "explorer-diff-sv")

    narrow(browser)
    shot(browser, "explorer-diff-sv-320px")


def test_try_a_rehab_day_and_read_the_denial(browser, base_url):
    browser.get(f"{base_url}/explorer/policies/{POLICY}/versions/2023-01/actions/rehab_day"
                "?lang=en")
    rule = wait_for(browser, "#rule-TT-1-day-length")
    assert "Interpretation" in rule.text or rule.find_elements(By.CSS_SELECTOR, ".cite")
    browser.find_element(By.CSS_SELECTOR, "main a.button").click()

    as_of = wait_for(browser, "#as_of")
    # a date input's typing order depends on the locale; set the ISO value directly
    browser.execute_script("arguments[0].value = arguments[1]", as_of, "2025-03-10")
    Select(browser.find_element(By.ID, "f-service")).select_by_value("tyokokeilu")
    browser.find_element(By.ID, "f-hours_total").send_keys("7")
    browser.find_element(By.ID, "f-hours_at_workplace").send_keys("6")
    shot(browser, "explorer-try-form-en")
    browser.find_element(By.ID, "evaluate").click()

    result = wait_for(browser, "#result")
    assert "outcome-deny" in result.get_attribute("class")
    violations = result.find_element(By.CSS_SELECTOR, ".findings.violations")
    assert "TT-1-day-length" in violations.text
    assert "4.2" in violations.text                       # the citation's section
    assert "2023-01" in result.text                       # the version in force that day
    fired = result.find_elements(By.CSS_SELECTOR, "table.trace tr.fired th a")
    assert "TT-1-day-length" in [a.text for a in fired]
    shot(browser, "explorer-try-denied-en")

    narrow(browser)
    shot(browser, "explorer-try-denied-en-320px")

    # the rule link leads back to the rule's anchor on the action page
    browser.set_window_size(1280, 900)
    violations = browser.find_element(By.CSS_SELECTOR, ".findings.violations a")
    violations.click()
    WebDriverWait(browser, WAIT).until(lambda d: d.current_url.endswith("#rule-TT-1-day-length"))


def test_a_section_leads_to_its_rules_and_a_rule_back_to_its_section(browser, base_url):
    text_url = f"/explorer/policies/{POLICY}/versions/2025-04/text"
    browser.get(f"{base_url}/explorer/policies/{POLICY}/versions/2025-04?lang=fi")
    wait_for(browser, "main h1")
    browser.find_element(By.CSS_SELECTOR, f'a[href="{text_url}"]').click()

    section = wait_for(browser, 'section[id="section-4.2"]')
    assert "Asiakkaan kuntoutuspäivän pituus on vähintään 6 tuntia." in section.text
    margin = section.find_element(By.CSS_SELECTOR, "aside.text-margin")
    rules = [a.text for a in margin.find_elements(By.CSS_SELECTOR, "a")]
    assert rules == ["TT-1-day-length", "TT-1-longer-day-goal", "TT-1-workplace-hours",
                     "TT-1-workplace-exceeds-total"]
    contacts = browser.find_element(By.CSS_SELECTOR, 'section[id="section-13"] aside')
    assert "Ei sääntöä" in contacts.text                  # a section that needs no rule
    shot(browser, "explorer-text-fi")

    # the section to its rule …
    margin.find_element(By.LINK_TEXT, "TT-1-day-length").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.current_url.endswith("#rule-TT-1-day-length"))
    rule = wait_for(browser, "#rule-TT-1-day-length")
    link = rule.find_element(By.CSS_SELECTOR, "a.section-link")
    assert link.text == "4.2 Asiakkaan kuntoutuspäivä"

    # … and the rule back to its section
    link.click()
    WebDriverWait(browser, WAIT).until(lambda d: d.current_url.endswith(
        f"{text_url}#section-4.2"))
    assert wait_for(browser, 'section[id="section-4.2"]').is_displayed()

    narrow(browser)
    shot(browser, "explorer-text-fi-320px")


def test_the_diff_shows_the_changed_section_beside_its_rules(browser, base_url):
    browser.get(f"{base_url}/explorer/policies/{POLICY}/diff?from=2023-01&to=2025-04&lang=en")
    block = wait_for(browser, 'div[id="text-4.2"]')
    assert [e.text for e in block.find_elements(By.CSS_SELECTOR, "ins")] == [
        "vähintään", "työpaikalla."]
    statuses = [li.text.lower() for li in
                block.find_elements(By.CSS_SELECTOR, ".section-rules li")]   # .kind: caps
    assert statuses[0] == "tt-1-day-length changed"
    assert statuses[2].startswith("tt-1-workplace-exceeds-total reviewed, unchanged: ")
    shot(browser, "explorer-diff-text-en")
