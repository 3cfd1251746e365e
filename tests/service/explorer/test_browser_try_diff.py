"""'Try it' answers first and the diff reads on a phone, in a real headless Chromium.

After Evaluate the browser lands on the answer (#result in the viewport, focused), which says
which version decided and why and each comparison with its threshold; the diff of TT-1
marks the changed words and, 360 px wide, stacks old above new without a page that scrolls
sideways. The real ``policies/`` and ``fixtures/``; screenshots go to ``var/screenshots/``.
Fixtures as in test_browser.py (Debian's chromium and chromium-driver; skipped without them
except in CI).
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


def at_width(driver: webdriver.Chrome, width: int) -> None:
    """``width`` CSS pixels wide: the page itself must not scroll sideways."""
    driver.set_window_size(width, 800)
    WebDriverWait(driver, WAIT).until(
        lambda d: d.execute_script("return window.innerWidth") <= width)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 2, f"the page is {overflow} px wider than a {width} px screen"


def in_viewport(driver: webdriver.Chrome, element) -> tuple[float, float]:
    """(top of ``element`` in the viewport, the viewport's height)."""
    return driver.execute_script(
        "return [arguments[0].getBoundingClientRect().top, window.innerHeight]", element)


def wait_for(driver: webdriver.Chrome, css: str):
    return WebDriverWait(driver, WAIT).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def test_after_evaluate_the_answer_is_in_view_and_says_why(browser, base_url):
    # the 2025-04 page, a date in March 2025: version 2023-01 decides, and says so
    browser.get(f"{base_url}/explorer/policies/{POLICY}/versions/2025-04/actions/rehab_day"
                "/try?lang=en")
    as_of = wait_for(browser, "#as_of")
    browser.execute_script("arguments[0].value = arguments[1]", as_of, "2025-03-10")
    Select(browser.find_element(By.ID, "f-service")).select_by_value("tyokokeilu")
    browser.find_element(By.ID, "f-hours_total").send_keys("7")
    browser.find_element(By.ID, "f-hours_at_workplace").send_keys("6")
    browser.find_element(By.ID, "evaluate").click()

    result = wait_for(browser, "#result")
    WebDriverWait(browser, WAIT).until(lambda d: d.current_url.endswith("#result"))
    WebDriverWait(browser, WAIT).until(
        lambda d: -2 <= in_viewport(d, d.find_element(By.ID, "result"))[0]
        < in_viewport(d, d.find_element(By.ID, "result"))[1])
    top, height = in_viewport(browser, result)
    assert -2 <= top < height, (top, height)
    assert browser.switch_to.active_element.get_attribute("id") == "result"
    assert "outcome-deny" in result.get_attribute("class")
    why = result.find_element(By.CSS_SELECTOR, ".why-version").text
    assert "Decided under version 2023-01: the version in force on 10 Mar 2025." in why
    switch = result.find_element(By.CSS_SELECTOR, ".version-switch").text
    assert "this is not version 2025-04, whose page you came from" in switch
    checks = [li.text for li in result.find_elements(
        By.CSS_SELECTOR, "table.trace tr.fired ul.checks li")]
    assert "hours_total = 7 ≠ 6 (rehab_day_hours) ✓ holds" in checks
    shot(browser, "try-answer-first-en")
    at_width(browser, 360)
    shot(browser, "try-answer-first-en-360px")

    # the same facts under 2025-04, one click away
    browser.set_window_size(1280, 900)
    link = result.find_element(By.CSS_SELECTOR, "a.try-elsewhere")
    assert "2025-04" in link.text
    link.click()
    WebDriverWait(browser, WAIT).until(lambda d: "version=2025-04" in d.current_url)
    assert browser.find_element(By.ID, "f-hours_total").get_attribute("value") == "7"
    browser.find_element(By.ID, "evaluate").click()
    result = wait_for(browser, "#result")
    WebDriverWait(browser, WAIT).until(
        lambda d: -2 <= in_viewport(d, d.find_element(By.ID, "result"))[0]
        < in_viewport(d, d.find_element(By.ID, "result"))[1])
    assert "pinned by you" in result.find_element(By.CSS_SELECTOR, ".why-version").text
    assert browser.find_elements(By.CSS_SELECTOR, "#result .version-switch") == []
    shot(browser, "try-other-version-en")


def test_a_fixture_case_opens_in_try_it(browser, base_url):
    browser.get(f"{base_url}/explorer/policies/{POLICY}/versions/2023-01/actions/rehab_day"
                "?lang=en")
    rule = wait_for(browser, "#rule-TT-1-day-length")
    rule.find_element(By.CSS_SELECTOR, "details.cases summary").click()
    link = rule.find_element(By.CSS_SELECTOR, ".case-list.fired a.open-in-try")
    link.click()
    wait_for(browser, "#evaluate").click()
    result = wait_for(browser, "#result")
    fired = [a.text for a in result.find_elements(By.CSS_SELECTOR, "table.trace tr.fired th a")]
    assert "TT-1-day-length" in fired


def test_the_diff_marks_the_changed_words_and_fits_360px(browser, base_url):
    browser.get(f"{base_url}/explorer/policies/{POLICY}/diff?from=2023-01&to=2025-04&lang=en")
    rule = wait_for(browser, "#rules-TT-1-day-length")
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "main section > h2")]
    assert headings.index("Rules") < headings.index("Parameters") < headings.index(
        "Actions and their facts") < headings.index("Source")
    when = rule.find_element(By.CSS_SELECTOR, "tr.diff-changed")
    assert [e.text for e in when.find_elements(By.CSS_SELECTOR, "td.after ins.w")][:2] == [
        "<", "rehab_day_min_hours"]
    assert "!=" in [e.text for e in when.find_elements(By.CSS_SELECTOR, "td.before del.w")]
    style = browser.execute_script(
        "const s = getComputedStyle(arguments[0]); return s.textDecorationLine",
        when.find_element(By.CSS_SELECTOR, "del.w"))
    assert "line-through" in style
    style = browser.execute_script(
        "const s = getComputedStyle(arguments[0]); return s.textDecorationLine",
        when.find_element(By.CSS_SELECTOR, "ins.w"))
    assert "underline" in style
    shot(browser, "diff-words-en")

    at_width(browser, 360)
    before = browser.find_element(By.CSS_SELECTOR, "#rules-TT-1-day-length td.before")
    after = browser.find_element(By.CSS_SELECTOR, "#rules-TT-1-day-length td.after")
    # stacked: the new value below the old one, both as wide as the block
    assert after.location["y"] >= before.location["y"] + before.size["height"] - 2
    assert abs(after.location["x"] - before.location["x"]) <= 2
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 2")
    shot(browser, "diff-words-en-360px")
