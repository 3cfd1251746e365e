"""Filling a rule's message with the values of one decision, in the asked language.

>>> import datetime as dt
>>> render("Due {due}; groups {g}; ok {ok}; x {x}", {"due": dt.date(2027, 2, 28),
...        "g": ["a", "b"], "ok": True, "x": None}, "sv")
'Due 2027-02-28; groups a, b; ok ja; x –'
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

__all__ = ["format_value", "render"]

_YES_NO = {"fi": ("kyllä", "ei"), "sv": ("ja", "nej"), "en": ("yes", "no")}
_FORMATTER = string.Formatter()


def format_value(value: Any, lang: str) -> str:
    """How a value reads inside a sentence."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        yes, no = _YES_NO[lang]
        return yes if value else no
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v, lang) for v in value)
    return str(value)


def render(template: str, values: dict[str, Any], lang: str) -> str:
    """Replace each ``{name}`` (checked at load time) with its value."""
    parts = _PARSED.get(template)
    if parts is None:
        parts = _parse(template)
    if len(parts) == 1 and parts[0][1] is None:
        return parts[0][0]               # a message without values
    out = []
    for literal, field in parts:
        out.append(literal)
        if field is not None:
            out.append(format_value(values.get(field), lang))
    return "".join(out)


def _parse(template: str) -> tuple[tuple[str, str | None], ...]:
    """A template split once into its text and its ``{names}``; kept for the next decision."""
    parts = tuple((literal, field) for literal, field, _, _ in _FORMATTER.parse(template))
    if len(_PARSED) >= 65536:             # bounded: templates come from loaded policies
        _PARSED.clear()
    _PARSED[template] = parts or (("", None),)
    return _PARSED[template]


_PARSED: dict[str, tuple[tuple[str, str | None], ...]] = {}
