"""Dates, times, numbers and values as the reader of a page writes them.

A Finnish reader writes 5.12.2026 and 7,5 h, a Swedish one 5.12.2026 kl. 14.03, an English
one 5 Dec 2026 14:03; and nobody reads ``{"a": 1}`` or ``true`` in a table cell. The pages
keep the machine form in ``<time datetime>`` and in links; this module makes the words people
read. Logged times are shown in Finnish time (Europe/Helsinki), the service's, whatever the
server's zone; no page shows seconds' fractions.

Jinja filters (:func:`register`, the page's language from the template's ``lang``):
``|date``, ``|datetime``, ``|number``, ``|value`` (any value; lists and mappings as lists),
``|effect`` and ``|fact_type`` (a rule's effect and a fact's type in words).

>>> import datetime as dt
>>> format_date(dt.date(2026, 12, 5), "fi"), format_date("2026-12-05", "en")
('5.12.2026', '5 Dec 2026')
>>> format_datetime(dt.datetime(2026, 12, 5, 12, 3, 9, 512, tzinfo=dt.UTC), "sv")
'5.12.2026 kl. 14.03'
>>> format_number(7.5, "fi"), format_number(12500, "en"), format_number(12500, "sv")
('7,5', '12,500', '12\\xa0500')
>>> format_value(["a", True, 2.5], "fi")
'a, kyllä, 2,5'
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from service.explorer.catalogue import labels_for

__all__ = [
    "HELSINKI",
    "cell_html",
    "format_date",
    "format_datetime",
    "format_month",
    "format_number",
    "format_value",
    "register",
    "text_language",
    "value_html",
]

HELSINKI = ZoneInfo("Europe/Helsinki")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec")
_CLOCK = {"fi": "klo", "sv": "kl."}
_NBSP = "\u00a0"
# the parts of a policy file written in one language whatever the reader's: what is quoted
# from Kela's Finnish documents, and the planners' own English notes
_QUOTED_FINNISH = ("section", "quote", "document")
_PLANNERS_ENGLISH = ("interpretation", "note", "kept_for")
_LANGUAGES = ("fi", "sv", "en")
_EXPRESSIONS = ("when", "due", "derive")
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and len(value) > 10 and value[4:5] == "-":
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) == 10 and value[4:5] == "-":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def format_date(value: Any, lang: str) -> str:
    """A day: ``5.12.2026`` in Finnish and Swedish, ``5 Dec 2026`` in English; text that is
    not an ISO date is returned as it is."""
    day = _as_date(value)
    if day is None:
        return "" if value is None else str(value)
    if lang == "en":
        return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.day}.{day.month}.{day.year}"


def format_month(value: Any, lang: str) -> str:
    """A month: ``3/2025`` in Finnish and Swedish, ``Mar 2025`` in English.

    >>> format_month(dt.date(2025, 3, 1), "fi"), format_month(dt.date(2025, 3, 1), "en")
    ('3/2025', 'Mar 2025')
    """
    day = _as_date(value)
    if day is None:
        return "" if value is None else str(value)
    if lang == "en":
        return f"{_MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.month}/{day.year}"


def format_datetime(value: Any, lang: str) -> str:
    """A moment in Finnish time, to the minute: ``5.12.2026 klo 14.03`` (fi),
    ``5.12.2026 kl. 14.03`` (sv), ``5 Dec 2026 14:03`` (en). A time without a zone is taken
    as UTC, as the service logs it."""
    moment = _as_datetime(value)
    if moment is None:
        return format_date(value, lang)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(HELSINKI)
    day = format_date(local.date(), lang)
    if lang == "en":
        return f"{day} {local.hour:02d}:{local.minute:02d}"
    return f"{day} {_CLOCK.get(lang, 'klo')} {local.hour}.{local.minute:02d}"


def format_number(value: Any, lang: str) -> str:
    """A number with a decimal comma in Finnish and Swedish, and its thousands grouped from
    five digits up (a space in fi/sv, a comma in en); a whole float reads as a whole one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int):
        text, fraction = str(abs(value)), ""
    else:
        shown = f"{abs(value):.10g}" if isinstance(value, float) else str(abs(value))
        if "e" in shown or "E" in shown:
            return shown.replace(".", ",") if lang != "en" else shown
        text, _, fraction = shown.partition(".")
    if len(text) >= 5:
        sep = "," if lang == "en" else _NBSP
        groups = []
        while text:
            groups.insert(0, text[-3:])
            text = text[:-3]
        text = sep.join(groups)
    sign = "−" if value < 0 else ""
    if fraction:
        return f"{sign}{text}{'.' if lang == 'en' else ','}{fraction}"
    return f"{sign}{text}"


def format_value(value: Any, lang: str) -> str:
    """Any value as plain words: yes/no, a date, a number in the reader's way, a list as
    comma-separated items, a mapping as ``key: value`` pairs; nothing is ever JSON."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        labels = labels_for(lang)
        return labels["yes"] if value else labels["no"]
    if isinstance(value, (dt.date, dt.datetime)):
        return format_datetime(value, lang) if isinstance(value, dt.datetime) \
            else format_date(value, lang)
    if isinstance(value, (int, float, decimal.Decimal)):
        return format_number(value, lang)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {format_value(v, lang)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(format_value(v, lang) for v in value)
    return str(value)


def value_html(value: Any, lang: str) -> Markup:
    """A value for a table cell or a definition: a mapping, or a list holding structures,
    becomes a ``<ul>`` (keys as code, they are names); a name as planners write one
    (``over_2_years``, ``none``) is code, in no reader's language; anything else
    :func:`format_value`."""
    if isinstance(value, Mapping):
        items = (Markup("<li><code>{}</code>: {}</li>").format(k, value_html(v, lang))
                 for k, v in value.items())
        return Markup('<ul class="value-list">{}</ul>').format(Markup("").join(items))
    if isinstance(value, (list, tuple)) and any(
            isinstance(v, (Mapping, list, tuple)) for v in value):
        items = (Markup("<li>{}</li>").format(value_html(v, lang)) for v in value)
        return Markup('<ul class="value-list">{}</ul>').format(Markup("").join(items))
    if isinstance(value, str) and _IDENTIFIER.fullmatch(value):
        return Markup("<code>{}</code>").format(value)
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, str) and _IDENTIFIER.fullmatch(v) for v in value):
        return Markup(", ").join(Markup("<code>{}</code>").format(v) for v in value)
    return escape(format_value(value, lang))


def text_language(path: Any) -> str | None:
    """The language the text at ``path`` of a policy file is written in (``("title", "sv")``
    → sv, ``("cite", "quote")`` → fi, ``("source", "note")`` → en), None when it is no
    one language's (numbers, names, expressions).

    >>> text_language(("rules", "message", "sv")), text_language(("cite", "section"))
    ('sv', 'fi')
    """
    last = path[-1] if isinstance(path, (list, tuple)) and path else path
    if last in _LANGUAGES:
        return str(last)
    if last in _QUOTED_FINNISH:
        return "fi"
    if last in _PLANNERS_ENGLISH:
        return "en"
    return None


def cell_html(value: Any, path: Any, lang: str) -> Markup:
    """A value of a policy at ``path`` (a diff's cell): an effect or a fact type in words,
    a fact's declaration as its type in words and its other attributes, anything else as
    :func:`value_html`."""
    last = path[-1] if isinstance(path, (list, tuple)) and path else path
    labels = labels_for(lang)
    if last in _EXPRESSIONS or (isinstance(path, (list, tuple)) and path[:1] == ("set",)):
        return Markup("<code>{}</code>").format(format_value(value, lang))
    if last == "effect" and isinstance(value, str):
        return escape(labels.get(f"effect_{value}", value))
    if last in ("type", "items") and isinstance(value, str):
        return escape(labels.get(f"type_{value}", value))
    if isinstance(path, (list, tuple)) and len(path) == 2 and path[0] == "facts" \
            and isinstance(value, Mapping) and "type" in value:
        kind = str(value["type"])
        items = value.get("items")
        words = labels["list_of"].format(type=labels.get(f"type_{items}", items)) if items \
            else labels.get(f"type_{kind}", kind)
        rest = {k: v for k, v in value.items() if k not in ("type", "items")}
        if not rest:
            return escape(words)
        return Markup("{} ({})").format(words, value_html(rest, lang))
    return value_html(value, lang)


def _lang(context: Context) -> str:
    return str(context.get("lang") or "fi")


def register(bp: Blueprint) -> None:
    """The filters, on every template of the app (the blueprint's pages use them)."""

    @bp.app_template_filter("date")
    @pass_context
    def date_filter(context: Context, value: Any) -> str:
        return format_date(value, _lang(context))

    @bp.app_template_filter("datetime")
    @pass_context
    def datetime_filter(context: Context, value: Any) -> str:
        return format_datetime(value, _lang(context))

    @bp.app_template_filter("number")
    @pass_context
    def number_filter(context: Context, value: Any) -> str:
        return format_number(value, _lang(context))

    @bp.app_template_filter("value")
    @pass_context
    def value_filter(context: Context, value: Any) -> Markup:
        return value_html(value, _lang(context))

    bp.add_app_template_filter(text_language, "text_lang")

    @bp.app_template_filter("cell")
    @pass_context
    def cell_filter(context: Context, value: Any, path: Any) -> Markup:
        return cell_html(value, path, _lang(context))

    @bp.app_template_filter("effect")
    @pass_context
    def effect_filter(context: Context, effect: str) -> str:
        return labels_for(_lang(context)).get(f"effect_{effect}", effect)

    @bp.app_template_filter("fact_type")
    @pass_context
    def fact_type_filter(context: Context, kind: str, items: str | None = None) -> str:
        labels = labels_for(_lang(context))
        word = labels.get(f"type_{kind}", kind)
        if items:
            return labels["list_of"].format(type=labels.get(f"type_{items}", items))
        return word
