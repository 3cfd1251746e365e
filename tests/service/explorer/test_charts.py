"""Charts of counts over time (service/explorer/charts.py): the SVG, its table, the marks."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import render_template_string

from service.database import make_engine
from service.decision_log import DecisionLog, LogEntry, bucket_starts
from service.explorer import charts
from service.explorer.catalogue import LABELS
from service.explorer.charts import (
    LEFT,
    PLOT_WIDTH,
    bucket_end,
    draw_chart,
    outcome_chart,
    version_marks,
    x_of,
)
from service.ids import new_decision_id

SPRING = bucket_starts(dt.date(2025, 1, 1), dt.date(2025, 6, 30), "month")
COUNTS = {"decisions": [3, 4, 5, 6, 7, 2], "deny": [1, 2, 0, 0, 1, 0],
          "warn": [0, 0, 0, 1, 0, 0]}
APRIL = [(dt.date(2025, 4, 1), "2025-04")]


def chart(lang: str = "en", **overrides):
    args = dict(starts=SPRING, series=COUNTS, marks=APRIL, labels=LABELS[lang],
                bucket="month", title="TT-4", lang=lang)
    args.update(overrides)
    return draw_chart(args.pop("starts"), args.pop("series"), args.pop("marks"),
                      args.pop("labels"), **args)


def test_counts_and_totals_are_in_the_table():
    table = chart().table
    assert table.head == ("Month", "decisions", "fired: deny", "fired: warning",
                          "Version change")
    assert [(r.label, r.counts) for r in table.rows] == [
        ("Jan 2025", (3, 1, 0)), ("Feb 2025", (4, 2, 0)), ("Mar 2025", (5, 0, 0)),
        ("Apr 2025", (6, 0, 1)), ("May 2025", (7, 1, 0)), ("Jun 2025", (2, 0, 0))]
    assert table.totals == (27, 4, 1)
    assert [r.marks for r in table.rows if r.marks] == [
        ("Version 2025-04 in force from 1 Apr 2025.",)]
    weekly = chart(starts=[dt.date(2025, 3, 31)], series={"decisions": [2]}, bucket="week")
    assert weekly.table.rows[0].label == "31 Mar 2025 – 6 Apr 2025"
    assert weekly.table.rows[0].marks == ("Version 2025-04 in force from 1 Apr 2025.",)
    # the reader's way in Finnish and Swedish
    assert chart("fi").table.rows[0].label == "1/2025"
    assert chart("sv", starts=[dt.date(2025, 3, 31)], series={"decisions": [2]},
                 bucket="week").table.rows[0].label == "31.3.2025 – 6.4.2025"


def test_the_version_mark_lies_at_its_date_on_the_time_axis():
    drawn = chart()
    # January to June: 181 days; 1 April is day 90
    x = LEFT + PLOT_WIDTH * 90 / 181
    assert drawn.marks == ((dt.date(2025, 4, 1), "2025-04", pytest.approx(x)),)
    assert x_of(dt.date(2025, 4, 1), SPRING[0], bucket_end(SPRING[-1], "month")) == \
        pytest.approx(x)
    assert f'<line x1="{x:.1f}"' in str(drawn.svg)
    assert ">version 2025-04</text>" in str(drawn.svg)
    # the mark lies between the points of March and April
    march, april = (LEFT + PLOT_WIDTH * d / 181 for d in (59 + 15.5, 90 + 15))
    assert march < x < april


def test_a_mark_outside_the_period_is_not_drawn():
    drawn = chart(marks=[(dt.date(2023, 1, 1), "2023-01"), (dt.date(2025, 7, 1), "2025-07")])
    assert drawn.marks == () and 'class="mark"' not in str(drawn.svg)
    assert not any(r.marks for r in drawn.table.rows)


def test_version_marks_are_the_versions_taking_effect_inside_the_period():
    class V:
        def __init__(self, version, day):
            self.version, self.effective_from = version, day

    class P:
        versions = (V("2023-01", dt.date(2023, 1, 1)), V("2025-04", dt.date(2025, 4, 1)))

    assert version_marks(P(), dt.date(2025, 1, 1), dt.date(2025, 7, 1)) == APRIL
    assert version_marks(P(), dt.date(2025, 4, 1), dt.date(2025, 7, 1)) == []


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_no_decisions_draws_the_message_and_no_table(lang):
    zero = chart(lang, series={"decisions": [0] * 6, "deny": [0] * 6})
    svg = str(zero.svg)
    assert zero.empty and LABELS[lang]["chart_empty"] in svg
    assert "<polyline" not in svg and 'role="img"' in svg
    nothing = chart(lang, starts=[], series={"decisions": []})
    assert nothing.empty and LABELS[lang]["chart_empty"] in str(nothing.svg)
    assert f'<desc id="chart-desc">{LABELS[lang]["chart_empty"]}</desc>' in str(nothing.svg)


def test_every_word_comes_from_the_catalogue():
    """With each catalogue word replaced by a marker, only markers, numbers, dates and the
    title are left in the drawing's texts: nothing is written in one language in code."""
    labels = {k: f"[{k}]" + (" {version}" if k == "chart_mark" else "")
              for k in LABELS["en"]}
    labels["chart_desc"] = "[chart_desc] {bucket} {first} {last}"
    labels["chart_desc_series"] = "[chart_desc_series] {series} {total} {peak} {at}"
    labels["chart_mark_desc"] = "[chart_mark_desc] {version} {date}"
    drawn = chart("fi", labels=labels, title="[title]")
    texts = re.findall(r">([^<>]+)<", str(drawn.svg))
    assert texts
    for text in texts:
        rest = re.sub(r"\[\w+\]|\d{4}-\d{2}|\d+|[\s–./]", "", text)
        assert rest == "", text
    for lang in LABELS:
        assert chart(lang).svg          # every key the drawing uses exists in each language


def test_the_drawing_is_accessible_and_the_same_every_time():
    svg = str(chart("sv").svg)
    assert svg == str(chart("sv").svg)
    assert re.match(r'<svg [^>]*role="img"[^>]*aria-labelledby="chart-title chart-desc"', svg)
    assert '<title id="chart-title">TT-4</title>' in svg
    desc = re.search(r'<desc id="chart-desc">(.*?)</desc>', svg)[1]
    assert "beslut: totalt 27, flest (7) under 5/2025." in desc
    assert "Version 2025-04 gäller från 1.4.2025." in desc
    assert "<script" not in svg and "href" not in svg
    # each series: its own dash pattern and its own marker shape, its name at its line's end
    lines = re.findall(r'<g class="series series-(\w+)"><polyline [^>]*?stroke="(#\w+)"'
                       r'[^>]*?(?:stroke-dasharray="([^"]+)")?/>(<\w+)', svg)
    assert [k for k, *_ in lines] == ["decisions", "deny", "warn"]
    assert len({dash for _, _, dash, _ in lines}) == 3
    assert len({(shape, dash) for _, _, dash, shape in lines}) == 3
    names = re.findall(r'<g class="name">.*?<text [^>]*>([^<]+)</text></g>', svg)
    assert sorted(names) == sorted(["beslut", "utlöstes: avslag", "utlöstes: varning"])


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_every_colour_has_enough_contrast_on_white():
    for colour, _dash, _marker in charts._STYLES:
        assert (1.05) / (_luminance(colour) + 0.05) >= 4.5, colour
    assert len({(dash, marker) for _c, dash, marker in charts._STYLES}) == len(charts._STYLES)


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        chart(series={"decisions": [1, 2]})
    with pytest.raises(ValueError):
        chart(bucket="day")


def _logged(n: int, outcome: str, day: int, policy: str = "tiny") -> LogEntry:
    return LogEntry(
        id=new_decision_id(), time=dt.datetime(2026, 3, day, 12, n, tzinfo=dt.UTC),
        provider="1234567-1", token_id="tok", policy=policy, version="2025-01",
        digest="sha256:00", action="day", as_of=dt.date(2025, 3, 10), lang="fi", facts={},
        outcome=outcome, fired=["TS-1-too-short"] if outcome == "deny" else [], results={},
        findings={}, latency_ms=1.0)


def test_outcome_chart_counts_allowed_and_denied_for_the_list_filters(app, sqlite_url):
    log = DecisionLog(make_engine(sqlite_url))
    for n, (outcome, day) in enumerate([("deny", 2), ("allow", 3), ("deny", 10),
                                        ("deny", 11), ("allow", 30)]):
        log.record(_logged(n, outcome, day))
    log.record(_logged(9, "deny", 3, policy="other"))
    filters = {"policy": "tiny", "since": dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
               "until": dt.datetime(2026, 4, 1, tzinfo=dt.UTC), "limit": 50, "cursor": None}
    drawn = outcome_chart(log, filters, "en", "week")
    assert drawn.table.head == ("Week", "allowed", "denied", "Version change")
    assert [r.counts for r in drawn.table.rows] == [(0, 0), (1, 1), (0, 2), (0, 0), (0, 0),
                                                    (1, 0)]
    assert drawn.table.rows[0].start == dt.date(2026, 2, 23)
    assert drawn.note == LABELS["en"]["chart_by_logged_day"]
    only_fired = outcome_chart(log, {"policy": "tiny", "fired": "TS-1-too-short"}, "fi",
                               "month")
    assert [r.counts for r in only_fired.table.rows] == [(0, 3)]
    with app.test_request_context():
        html = render_template_string(
            '{% from "explorer/chart.html" import chart_block with context %}'
            "{{ chart_block(chart) }}", chart=drawn, labels=LABELS["en"])
    assert html.count("<svg") == 1 and 'class="chart-table"' in html
    assert '<td class="num">2</td>' in html and "Decisions by outcome per week" in html
