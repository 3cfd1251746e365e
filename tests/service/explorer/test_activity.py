"""The activity pages through Flask's test client (service/explorer/activity.py).

On the real work try-out policy, whose 2025-04 version took effect on 2025-04-01: decisions
are logged with event dates on both sides of it, and the pages must count them per bucket,
mark the version change and answer a bad field with a 400 naming it.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from service.decision_log import LogEntry
from service.explorer.activity import parse_period
from service.explorer.catalogue import LABELS
from service.ids import new_decision_id
from tests.service.conftest import make_app

ROOT = Path(__file__).resolve().parents[3]
POLICY = "tyokokeilu-tyohonvalmennus"
TT4 = "TT-4-max-days"
BASE = f"/explorer/policies/{POLICY}"


class _Table(HTMLParser):
    """The chart table's body rows: first cell (the bucket) → the other cells' text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._in_table = self._in_body = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("class", "chart-table") in attrs:
            self._in_table = True
        elif self._in_table and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self._row = []
        elif self._row is not None and tag in ("th", "td"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows[self._row[0]] = self._row[1:]
            self._row = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._in_table = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table(html: str) -> dict[str, list[str]]:
    parser = _Table()
    parser.feed(html)
    return parser.rows


@pytest.fixture(scope="module")
def spring_app(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path):
    """The app on the real policies with the spring's decisions logged, once for the
    module: every test below only reads it (each with a client of its own, so a language
    one test chose never reaches another)."""
    var = tmp_path_factory.mktemp("activity")
    path = var / "log.db"
    shutil.copyfile(migrated_sqlite, path)
    app = make_app(ROOT / "policies", f"sqlite:///{path}", var / "var")
    log = app.extensions["rehab_rules"].log
    for entry in _spring_entries():
        log.record(entry)
    return app


def logged(as_of: dt.date, fired: list[str], *, version: str, action: str = "rehab_day",
           pinned: bool = False) -> LogEntry:
    return LogEntry(
        id=new_decision_id(), time=dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC),
        provider="1234567-1", token_id="tok", policy=POLICY, version=version,
        digest="sha256:00", action=action, as_of=as_of, lang="fi", facts={},
        outcome="deny" if fired else "allow", fired=fired, results={},
        findings={}, latency_ms=1.0, pinned=pinned)


def _spring_entries() -> list[LogEntry]:
    """March 2025 under 2023-01, April and May under 2025-04: TT-4 denies 2, 1 and 0 times;
    a what-if and a decision of another action beside them."""
    old, new = "2023-01", "2025-04"
    return [
        logged(dt.date(2025, 3, 3), [TT4, "TT-3-day-not-billable"], version=old),
        logged(dt.date(2025, 3, 20), [TT4, "TT-3-day-not-billable"], version=old),
        logged(dt.date(2025, 3, 31), [], version=old),
        logged(dt.date(2025, 4, 1), [TT4, "TT-3-day-not-billable"], version=new),
        logged(dt.date(2025, 4, 2), ["TT-1-day-length", "TT-3-day-not-billable"],
               version=new),
        logged(dt.date(2025, 5, 12), [], version=new),
        logged(dt.date(2025, 4, 3), [TT4], version=old, pinned=True),        # a what-if
        logged(dt.date(2025, 4, 7), ["TT-8-first-meeting-due"], version=new,
               action="first_meeting"),
    ]


@pytest.fixture
def spring(spring_app):
    return spring_app.test_client()


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_rule_activity_counts_the_rule_per_month_and_marks_the_version_change(spring):
    html = page(spring, f"{BASE}/rules/{TT4}/activity?from=2025-02-01&until=2025-05-31"
                        "&bucket=month&lang=en")
    rows = table(html)
    # decisions of rehab_day (TT-4's action), and how many of them TT-4 fired in
    assert rows == {"Feb 2025": ["0", "0", ""], "Mar 2025": ["3", "2", ""],
                    "Apr 2025": ["2", "1", "Version 2025-04 in force from 1 Apr 2025."],
                    "May 2025": ["1", "0", ""]}
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"' in html
    assert re.search(r'<title id="rule-activity-title">Rule TT-4-max-days: decisions and '
                     r'firings per month</title>', html)
    assert re.search(r'<g class="mark"><line x1="[\d.]+".*?>version 2025-04</text>', html)
    assert "the rule fired" in html and "<script" not in html
    assert re.search(r"<tfoot><tr><th scope=\"row\">Total</th><td class=\"num\">6</td>"
                     r"<td class=\"num\">3</td>", html)


def test_policy_activity_counts_every_effect_per_week(spring):
    html = page(spring, f"{BASE}/activity?from=2025-03-24&until=2025-04-06&bucket=week")
    rows = table(html)
    labels = LABELS["fi"]
    head = re.search(r'<table class="chart-table">.*?<thead><tr>(.*?)</tr>', html, re.S)[1]
    names = re.findall(r'<th scope="col">(.*?)</th>', head)
    assert names[:3] == [labels["chart_week"], labels["chart_series_decisions"],
                         labels["chart_series_deny"]]
    assert names[-1] == labels["chart_changes"]
    deny, result = names.index(labels["chart_series_deny"]), names.index(
        labels["chart_series_result"])
    week_1, week_2 = rows["24.3.2025 – 30.3.2025"], rows["31.3.2025 – 6.4.2025"]
    # the week of 31 March holds 31.3 (nothing fired), 1.4 (TT-4, TT-3) and 2.4 (TT-1, TT-3)
    assert week_1[0] == "0" and week_2[0] == "3"
    assert week_2[deny - 1] == "2" and week_2[result - 1] == "2"
    assert "2025-04" in week_2[-1] and week_1[-1] == ""
    assert "versio 2025-04" in html


def test_the_what_if_and_the_other_period_are_left_out(spring):
    html = page(spring, f"{BASE}/rules/{TT4}/activity?from=2025-06-01&until=2025-06-30"
                        "&bucket=month&lang=sv")
    assert LABELS["sv"]["chart_empty"] in html
    assert 'class="chart-table"' not in html
    assert "version 2025-04" not in html          # no version change in June


def test_default_period_is_the_last_twelve_months_per_month(spring):
    html = page(spring, f"{BASE}/activity")
    today = dt.date.today()
    assert f'name="until" value="{today.isoformat()}"' in html
    assert 'value="month" selected' in html
    period = parse_period({}, LABELS["en"], today=dt.date(2024, 2, 29))
    assert (period.since, period.until, period.bucket) == (dt.date(2023, 3, 1),
                                                          dt.date(2024, 2, 29), "month")


@pytest.mark.parametrize(("query", "field", "key"), [
    ("from=2025-13-01", "from", "activity_bad_date"),
    ("until=yesterday", "until", "activity_bad_date"),
    ("bucket=day", "bucket", "activity_bad_bucket"),
    ("from=2025-05-01&until=2025-04-01", "until", "activity_bad_period"),
])
def test_a_bad_field_is_a_400_naming_it(spring, query, field, key):
    html = page(spring, f"{BASE}/rules/{TT4}/activity?{query}&lang=en", status=400)
    assert f'<code>{field}</code>: {LABELS["en"][key]}' in html
    assert f'id="err-{field}"' in html and 'aria-invalid="true"' in html
    assert "<svg" not in html
    assert page(spring, f"{BASE}/activity?{query}", status=400)


def test_a_too_long_period_is_refused(spring):
    html = page(spring, f"{BASE}/activity?from=1900-01-01&until=2025-01-01&bucket=week",
                status=400)
    assert "<code>from</code>" in html


def test_unknown_policy_or_rule_is_404(spring):
    assert "no-such-policy" in page(spring, "/explorer/policies/no-such-policy/activity", 404)
    assert "TT-99" in page(spring, f"{BASE}/rules/TT-99/activity", 404)
    page(spring, "/explorer/policies/no-such-policy/rules/TT-1/activity", 404)


def test_policy_and_action_pages_link_to_the_activity(spring):
    html = page(spring, BASE)
    assert f'href="{BASE}/activity"' in html
    action = page(spring, f"{BASE}/versions/2025-04/actions/rehab_day")
    rules = re.findall(r'<li class="rule effect-\w+" id="rule-([^"]+)"', action)
    links = re.findall(rf'href="{BASE}/rules/([^/"]+)/activity"', action)
    assert rules and links == rules


def test_closed_explorer_asks_for_a_token(sqlite_url, tmp_path):
    app = make_app(ROOT / "policies", sqlite_url, tmp_path / "var")
    app.config["EXPLORER_OPEN"] = False
    client = app.test_client()
    assert client.get(f"{BASE}/activity").status_code == 401
    assert client.get(f"{BASE}/rules/{TT4}/activity").status_code == 401
    token = app.extensions["rehab_rules"].tokens.create("provider", "1234567-1", "A")[0]
    answer = client.get(f"{BASE}/rules/{TT4}/activity",
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
