"""The action page's labels in a real headless Chromium (fixtures of test_browser.py): a
provider reads a fact by its name in Swedish with the identifier beside it, the values by
name, the interpretation in Swedish, and the page still fits a 320 px screen."""

from __future__ import annotations

import pytest

from tests.service.explorer.test_browser import (  # noqa: F401  (fixtures)
    POLICY,
    base_url,
    browser,
    narrow,
    shot,
    wait_for,
)

pytestmark = pytest.mark.slow

from selenium.webdriver.common.by import By  # noqa: E402


def test_a_fact_by_its_swedish_label_beside_its_identifier(browser, base_url):  # noqa: F811
    browser.get(f"{base_url}/explorer/policies/{POLICY}/versions/2025-04/actions/"
                "bill_meal?lang=sv")
    table = wait_for(browser, "table.facts-table")
    row = next(r for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")
               if "phase" in r.find_element(By.CSS_SELECTOR, "th").text)
    head = row.find_element(By.CSS_SELECTOR, "th")
    assert head.text.startswith("Skede")
    assert head.find_element(By.CSS_SELECTOR, "small code").text == "phase"
    assert "planering" in row.text and "arbetsträning" not in row.text
    service = next(r for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")
                   if r.find_element(By.CSS_SELECTOR, "th small code").text == "service")
    assert "arbetsprövning" in service.text and "arbetsträning" in service.text

    browser.get(f"{base_url}/explorer/policies/{POLICY}/versions/2025-04/actions/"
                "rehab_day?lang=sv")
    wait_for(browser, "table.facts-table")
    sick = next(r for r in browser.find_elements(By.CSS_SELECTOR, ".facts-table tbody tr")
                if r.find_element(By.CSS_SELECTOR, "th small code").text == "sick")
    assert "Sjukfrånvaro" in sick.text and "Klienten var frånvarande" in sick.text
    note = browser.find_element(By.CSS_SELECTOR, "#rule-TT-1-day-length .interpretation")
    assert "Ändringsversionen 04/2025 tolkas gälla från 2025-04-01" in note.text
    shot(browser, "explorer-action-labels-sv")
    narrow(browser)
    shot(browser, "explorer-action-labels-sv-320px")
