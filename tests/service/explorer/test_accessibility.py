"""axe-core finds nothing on any explorer page, in Finnish, Swedish and English.

Every page kind of :data:`tests.service.explorer.page_kinds.PAGE_KINDS` (append a line there
to add one; ``role`` signs in through the explorer's cookie) is opened in real headless
Chromium against a real HTTP server on the repository's policies; axe-core, the version
pinned in ``package.json`` / ``package-lock.json`` that ``make test`` installs with ``npm
ci``, is injected with selenium and run on the whole document. The test fails on any
violation, naming each one's rule id, impact and elements. A screenshot of every page and
language goes to ``var/screenshots/a11y-<page>-<lang>.png`` (1280 px wide), a few also at
360 px, for a person to look at.

Needs Debian's ``chromium`` and ``chromium-driver`` and ``node_modules/axe-core``; without
them the tests are skipped, except in CI (``CI=true``), where they must run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from service import create_app
from service.database import upgrade
from tests.service.conftest import PROVIDER_A
from tests.service.explorer.page_kinds import PAGE_KINDS, PageKind, log_decisions

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "var" / "screenshots"
WAIT = 30
LANGUAGES = ("fi", "sv", "en")
# the pages also photographed 360 px wide (a phone), in Finnish
NARROW = {"index", "action", "diff", "try-answer", "try-errors", "decisions-filtered", "decision",
          "rule-activity"}

pytestmark = pytest.mark.slow

_IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_MISSING = [str(p) for p in (Path(CHROMIUM), Path(CHROMEDRIVER), AXE) if not p.exists()]
if _MISSING and not _IN_CI:
    pytest.skip(f"not in CI and {', '.join(_MISSING)} missing: make test installs Chromium "
                "(apt-get) and axe-core (npm ci)", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# run axe on the page and hand back its violations, in a form that crosses WebDriver
_RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]})
  .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
        targets: v.nodes.map(n => n.target.join(" "))}))))
  .catch(e => done([{id: "axe-failed", impact: "error", help: String(e), targets: []}]));
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, str]]:
    """The app on the real policies, served by werkzeug in a thread on a free port."""
    from werkzeug.serving import make_server

    var = tmp_path_factory.mktemp("a11y") / "var"
    var.mkdir()
    url = f"sqlite:///{var / 'log.db'}"
    upgrade(url)
    app = create_app({
        "POLICIES_DIR": str(ROOT / "policies"),
        "FIXTURES_DIR": str(ROOT / "fixtures"),
        "DATABASE_URL": url,
        "VAR_DIR": str(var),
        "REHAB_RULES_HASH_KEY": "a11y-test",
        "POLICIES_BOOTSTRAP": True,
    })
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app, log_decisions(app, PROVIDER_A)
    finally:
        server.shutdown()
        thread.join(timeout=WAIT)
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile, the local driver, no network of its own."""
    profile = tempfile.mkdtemp(prefix="rr-a11y-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                "--force-device-scale-factor=1", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = None
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(WAIT)
        driver.set_script_timeout(WAIT * 2)
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def replaced(old: Any) -> Callable[[webdriver.Chrome], bool]:
    """Wait condition: the page ``old`` (its ``<html>``) was left for another. In the middle
    of the navigation chromedriver may answer "node ... does not belong to the document"
    instead of a stale reference (seen with two browsers on a loaded machine): gone too."""
    stale = ec.staleness_of(old)

    def left(driver: webdriver.Chrome) -> bool:
        try:
            return stale(driver)
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
    return left


def sign_in(driver: webdriver.Chrome, base: str, app: Any, role: str | None) -> None:
    """Signed in as a person does it, with a fresh token of ``role`` typed into the explorer's
    sign-in form; signed out (no cookies) for None."""
    driver.get(f"{base}/explorer/static/explorer.css")      # a page of the host, for cookies
    driver.delete_all_cookies()
    if role is None:
        return
    raw = app.extensions["rehab_rules"].tokens.create(
        role, PROVIDER_A if role == "provider" else None, f"a11y {role}")[0]
    driver.get(f"{base}/explorer/signin")
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "token")))
    driver.find_element(By.ID, "token").send_keys(raw)
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "signin").click()
    WebDriverWait(driver, WAIT).until(replaced(old))


def open_page(driver: webdriver.Chrome, base: str, kind: PageKind, lang: str,
              decision: str = "") -> None:
    """The page as its reader reaches it: a form filled in and sent, when it has one."""
    args = {"lang": lang, **(kind.form or {})}
    sep = "&" if "?" in kind.url else "?"
    url = kind.url.format(decision=decision)
    driver.get(f"{base}{url}{sep}{urlencode(args)}")
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR,
                                                                       "main h1")))
    if kind.form is not None:
        old = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.CSS_SELECTOR, kind.submit).click()
        WebDriverWait(driver, WAIT).until(replaced(old))
        WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR,
                                                                           "main h1")))
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang


def shot(driver: webdriver.Chrome, name: str, width: int) -> Path:
    """The whole page, ``width`` CSS pixels wide, as ``var/screenshots/<name>.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(width, 900)
    WebDriverWait(driver, WAIT).until(
        lambda d: d.execute_script("return window.innerWidth") <= width)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(int(height) + 120, 600), 6000))
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)
    return path


def violations(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """axe-core's violations on the page now shown."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    return driver.execute_async_script(_RUN_AXE)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", PAGE_KINDS, ids=[k.name for k in PAGE_KINDS])
def test_no_axe_violations(browser, served, kind: PageKind, lang: str):
    base, app, decision = served
    sign_in(browser, base, app, kind.role)
    open_page(browser, base, kind, lang, decision)
    shot(browser, f"a11y-{kind.name}-{lang}", 1280)
    if kind.name in NARROW and lang == "fi":
        shot(browser, f"a11y-{kind.name}-{lang}-360px", 360)
    found = violations(browser)
    assert not found, f"{kind.name} in {lang}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['targets'][:8])}"
        for v in found)


def test_axe_finds_a_violation(browser, served):
    """The check itself: an image without a text alternative, added to a page, is found."""
    base, app, _ = served
    sign_in(browser, base, app, None)
    open_page(browser, base, PAGE_KINDS[0], "en")
    browser.execute_script(
        "const i = document.createElement('img'); i.src = 'data:,'; i.id = 'no-alt';"
        "document.querySelector('main').appendChild(i);")
    found = violations(browser)
    assert any(v["id"] == "image-alt" and "#no-alt" in v["targets"] for v in found), found
