"""Dates, times, numbers and values the reader's way (service/explorer/formats.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Blueprint, Flask, render_template_string

from service.explorer.formats import (
    cell_html,
    format_date,
    format_datetime,
    format_number,
    format_value,
    register,
    text_language,
    value_html,
)

MOMENT = dt.datetime(2026, 12, 5, 12, 3, 59, 123456, tzinfo=dt.UTC)     # 14.03 in Helsinki


@pytest.mark.parametrize(("lang", "day", "moment"), [
    ("fi", "5.12.2026", "5.12.2026 klo 14.03"),
    ("sv", "5.12.2026", "5.12.2026 kl. 14.03"),
    ("en", "5 Dec 2026", "5 Dec 2026 14:03"),
])
def test_dates_and_times_in_the_readers_locale(lang, day, moment):
    assert format_date(dt.date(2026, 12, 5), lang) == day
    assert format_date("2026-12-05", lang) == day
    assert format_datetime(MOMENT, lang) == moment
    assert format_datetime(MOMENT.isoformat(), lang) == moment        # as the log stores it
    assert format_datetime("2026-12-05T12:03:59", lang) == moment     # no zone: UTC


def test_summer_time_and_text_that_is_no_date():
    assert format_datetime(dt.datetime(2026, 7, 1, 9, 5, tzinfo=dt.UTC), "fi") == \
        "1.7.2026 klo 12.05"
    assert format_date("04/2025", "fi") == "04/2025"
    assert format_date(None, "en") == ""


def test_numbers_with_the_readers_decimal_mark_and_grouping():
    assert format_number(7.5, "fi") == "7,5"
    assert format_number(7.5, "sv") == "7,5"
    assert format_number(7.5, "en") == "7.5"
    assert format_number(6.0, "fi") == "6"
    assert format_number(2026, "fi") == "2026"                    # four digits stay whole
    assert format_number(1234567, "fi") == "1\u00a0234\u00a0567"
    assert format_number(1234567.25, "en") == "1,234,567.25"
    assert format_number(-0.5, "sv") == "−0,5"
    assert format_number(True, "fi") == "True"                    # not a number here


def test_values_are_words_never_json():
    assert format_value(True, "fi") == "kyllä"
    assert format_value(False, "sv") == "nej"
    assert format_value(None, "en") == "—"
    assert format_value(["a", "b"], "en") == "a, b"
    assert format_value({"a": 1.5, "b": [1, 2]}, "fi") == "a: 1,5; b: 1, 2"
    assert format_value(dt.date(2025, 3, 10), "en") == "10 Mar 2025"
    html = str(value_html({"min": 5, "names": ["x", "<y>"]}, "fi"))
    assert html == ('<ul class="value-list"><li><code>min</code>: 5</li>'
                    '<li><code>names</code>: x, &lt;y&gt;</li></ul>')
    assert "{" not in str(value_html([{"a": 1}], "en"))
    # names as planners write them are code, in no reader's language
    assert str(value_html(["over_2_years", "none"], "fi")) == \
        "<code>over_2_years</code>, <code>none</code>"
    assert str(value_html("työkokeilu", "fi")) == "työkokeilu"


def test_cells_of_a_diff_in_words():
    assert str(cell_html("deny", ("effect",), "fi")) == "hylkäys"
    assert str(cell_html("integer", ("facts", "n", "type"), "sv")) == "heltal"
    assert str(cell_html("hours > 6", ("when",), "en")) == "<code>hours &gt; 6</code>"
    assert str(cell_html({"type": "boolean", "default": False}, ("facts", "x"), "fi")) == \
        'kyllä/ei (<ul class="value-list"><li><code>default</code>: ei</li></ul>)'
    assert str(cell_html({"type": "list", "items": "date"}, ("facts", "x"), "en")) == \
        "date list"


def test_the_language_a_policy_text_is_written_in():
    assert text_language(("title", "sv")) == "sv"
    assert text_language(("cite", "quote")) == "fi"
    assert text_language(("source", "note")) == "en"
    assert text_language(("rehab_day_min_hours",)) is None


def test_filters_take_the_language_of_the_page():
    app = Flask(__name__)
    bp = Blueprint("t", __name__)
    register(bp)
    app.register_blueprint(bp)
    template = ("{{ d|date }}|{{ m|datetime }}|{{ n|number }}|{{ v|value }}|{{ 'oblige'|effect }}"
                "|{{ 'list'|fact_type('integer') }}")
    with app.app_context():
        out = render_template_string(template, lang="sv", d=dt.date(2026, 12, 5), m=MOMENT,
                                     n=0.25, v=[True, None])
    assert out == "5.12.2026|5.12.2026 kl. 14.03|0,25|ja, —|skyldighet|lista: heltal"
