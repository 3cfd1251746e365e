import datetime as dt

from engine.messages import format_value, render


def test_values_read_naturally():
    assert format_value(6.0, "en") == "6" and format_value(5.5, "en") == "5.5"
    assert format_value(False, "fi") == "ei" and format_value(True, "en") == "yes"
    assert format_value(None, "sv") == "–"
    assert format_value(["a", dt.date(2025, 1, 2)], "en") == "a, 2025-01-02"


def test_render_keeps_literal_braces():
    assert render("{{x}} {x}", {"x": 1}, "en") == "{x} 1"
