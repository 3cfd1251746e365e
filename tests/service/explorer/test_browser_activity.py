"""The rule activity page in a real headless Chromium (service/explorer/activity.py).

A planner asks how often TT-4 denied around the 2025-04 version of the work try-out policy:
decisions are logged with event dates from January to June 2025, and the page must draw the
chart with the version's mark between March and April, beside the table of the same numbers,
in Finnish, Swedish and English, and fit a 320 px screen (the chart scrolls sideways, the page
does not). Screenshots go to ``var/screenshots/``. Fixtures as in test_browser.py.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import create_app
from service.decision_log import LogEntry
from service.explorer.catalogue import LABELS
from service.explorer.formats import format_date, format_month
from service.ids import new_decision_id

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = ROOT / "var" / "screenshots"
WAIT = 30
POLICY = "tyokokeilu-tyohonvalmennus"
TT4 = "TT-4-max-days"
# (event date, version, TT-4 fired): 1, 2, 3 denials before April, 1 and 0 after
LOGGED = [(dt.date(2025, 1, 15), "2023-01", True), (dt.date(2025, 1, 16), "2023-01", False),
          (dt.date(2025, 2, 3), "2023-01", True), (dt.date(2025, 2, 4), "2023-01", True),
          (dt.date(2025, 3, 5), "2023-01", True), (dt.date(2025, 3, 6), "2023-01", True),
          (dt.date(2025, 3, 7), "2023-01", True), (dt.date(2025, 4, 8), "2025-04", True),
          (dt.date(2025, 4, 9), "2025-04", False), (dt.date(2025, 5, 9), "2025-04", False)]

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
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def base_url(sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    """The app on the real policies with LOGGED in its log, served by werkzeug in a thread
    on a free port."""
    from werkzeug.serving import make_server

    app = create_app({
        "POLICIES_DIR": str(ROOT / "policies"),
        "FIXTURES_DIR": str(ROOT / "fixtures"),
        "DATABASE_URL": sqlite_url,
        "VAR_DIR": str(tmp_path / "var"),
        "REHAB_RULES_HASH_KEY": "browser-test",
        "POLICIES_BOOTSTRAP": True,
    })
    log = app.extensions["rehab_rules"].log
    for n, (as_of, version, denied) in enumerate(LOGGED):
        log.record(LogEntry(
            id=new_decision_id(), time=dt.datetime(2026, 1, 5, 9, n, tzinfo=dt.UTC),
            provider="1234567-1", token_id="tok", policy=POLICY, version=version,
            digest="sha256:00", action="rehab_day", as_of=as_of, lang="fi", facts={},
            outcome="deny" if denied else "allow", fired=[TT4] if denied else [],
            results={}, findings={}, latency_ms=1.0))
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


def wait_for(driver: webdriver.Chrome, css: str):
    return WebDriverWait(driver, WAIT).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def centre_x(element) -> float:
    rect = element.rect
    return rect["x"] + rect["width"] / 2


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_rule_activity_draws_the_chart_with_the_version_mark_and_the_table(
        browser, base_url, lang):
    labels = LABELS[lang]
    browser.set_window_size(1280, 900)
    browser.get(f"{base_url}/explorer/policies/{POLICY}/versions/2025-04/actions/rehab_day"
                f"?lang={lang}")
    wait_for(browser, f"#rule-{TT4}")
    browser.find_element(
        By.CSS_SELECTOR, f'#rule-{TT4} a[href="/explorer/policies/{POLICY}/rules/{TT4}/'
                         'activity"]').click()
    svg = wait_for(browser, "svg.chart")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    # the default period is the last twelve months; ask for the first half of 2025
    browser.get(f"{base_url}/explorer/policies/{POLICY}/rules/{TT4}/activity"
                "?from=2025-01-01&until=2025-06-30&bucket=month")
    svg = wait_for(browser, "svg.chart")
    assert svg.get_attribute("role") == "img"
    assert svg.rect["width"] > 400 and svg.rect["height"] > 150
    title = browser.find_element(By.CSS_SELECTOR, "svg.chart title").get_attribute(
        "textContent")
    assert title == f"{labels['activity_rule_title'].format(rule=TT4)} " \
                    f"{labels['chart_per_month']}"

    mark = browser.find_element(By.CSS_SELECTOR, "svg.chart g.mark")
    assert mark.find_element(By.TAG_NAME, "text").text == \
        labels["chart_mark"].format(version="2025-04")
    # the mark lies between the points of March and April of the rule's line
    points = browser.find_elements(By.CSS_SELECTOR, "svg.chart g.series-fired rect")
    assert len(points) == 6
    line_x = centre_x(mark.find_element(By.TAG_NAME, "line"))
    assert centre_x(points[2]) + 2 < line_x < centre_x(points[3]) - 2
    # higher points for more denials: January 1, February 2, March 3
    ys = [p.rect["y"] for p in points]
    assert ys[0] - 3 > ys[1] and ys[1] - 3 > ys[2] and abs(ys[4] - ys[5]) <= 3

    rows = browser.find_elements(By.CSS_SELECTOR, "table.chart-table tbody tr")
    cells = [[c.text for c in r.find_elements(By.CSS_SELECTOR, "th, td")] for r in rows]
    months = [format_month(dt.date(2025, m, 1), lang) for m in range(1, 7)]
    assert [c[:3] for c in cells] == [[months[0], "2", "1"], [months[1], "2", "2"],
                                      [months[2], "3", "3"], [months[3], "2", "1"],
                                      [months[4], "1", "0"], [months[5], "0", "0"]]
    assert format_date(dt.date(2025, 4, 1), lang) in cells[3][3]
    shot(browser, f"explorer-activity-rule-{lang}")

    browser.set_window_size(320, 800)
    WebDriverWait(browser, WAIT).until(
        lambda d: d.execute_script("return window.innerWidth") <= 320)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow} px wider than a 320 px screen"
    if lang == "fi":
        shot(browser, "explorer-activity-rule-fi-320px")


def test_policy_activity_draws_a_line_per_effect(browser, base_url):
    browser.get(f"{base_url}/explorer/policies/{POLICY}?lang=en")
    wait_for(browser, "main h1")
    browser.find_element(By.CSS_SELECTOR,
                         f'a[href="/explorer/policies/{POLICY}/activity"]').click()
    wait_for(browser, "#period-from")
    browser.get(f"{base_url}/explorer/policies/{POLICY}/activity"
                "?from=2025-01-01&until=2025-06-30&bucket=week")
    svg = wait_for(browser, "svg.chart")
    series = [g.get_attribute("class") for g in svg.find_elements(By.CSS_SELECTOR, "g.series")]
    assert series[:2] == ["series series-decisions", "series series-deny"]
    names = [t.text for t in svg.find_elements(By.CSS_SELECTOR, "g.name text")]
    assert "decisions" in names and "fired: deny" in names
    assert len(svg.find_elements(By.CSS_SELECTOR, "g.mark")) == 1
    total = browser.find_element(By.CSS_SELECTOR, "table.chart-table tfoot")
    assert total.text.split()[:3] == ["Total", "10", "7"]
    shot(browser, "explorer-activity-policy-en")
