"""The fixed set of functions a policy expression may call.

Policy files never run code; they name one of these functions. Each entry knows its arity,
how to type-check its arguments (so a planner learns at load time that ``add_months`` wants
a date) and how to compute its value. Any missing (``None``) argument makes the result
missing, except for ``coalesce``.

>>> import datetime as dt
>>> add_months(dt.date(2026, 8, 31), 6)
datetime.date(2027, 2, 28)
>>> valid_ytunnus("2077474-0"), valid_ytunnus("2077474-1")
(True, False)
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

from engine.personal import temporary_hetu, valid_hetu

__all__ = [
    "FUNCTIONS",
    "NUMERIC",
    "Function",
    "LookupMiss",
    "add_days",
    "add_months",
    "add_weeks",
    "days_between",
    "end_of_month",
    "make_date",
    "months_between",
    "percent",
    "round_half_up",
    "valid_ytunnus",
]

NUMERIC = ("integer", "number")


class LookupMiss(Exception):
    """``lookup`` met a key the table does not have; the caller names the fact."""

    def __init__(self, table: str, key: Any, known: list[str]):
        super().__init__(f"{key!r} is not a key of {table}")
        self.table, self.key, self.known = table, key, known


# -- dates -------------------------------------------------------------------------------

def add_days(d: dt.date, n: int) -> dt.date:
    return d + dt.timedelta(days=n)


def add_weeks(d: dt.date, n: int) -> dt.date:
    return d + dt.timedelta(weeks=n)


def add_months(d: dt.date, n: int) -> dt.date:
    """Calendar months, clamped to the last day of the target month (dateutil does this)."""
    return d + relativedelta(months=int(n))


def days_between(a: dt.date, b: dt.date) -> int:
    return (b - a).days


def months_between(a: dt.date, b: dt.date) -> int:
    delta = relativedelta(b, a)
    return delta.years * 12 + delta.months


def make_date(y: int, m: int, d: int) -> dt.date:
    y, m = int(y), int(m)
    if not (1 <= m <= 12 and 1 <= y <= 9999):
        raise ValueError(f"date({y}, {m}, {d}) is not a date")
    return dt.date(y, m, min(max(int(d), 1), calendar.monthrange(y, m)[1]))


def end_of_month(d: dt.date) -> dt.date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


# -- numbers -----------------------------------------------------------------------------

def round_half_up(x: float, digits: int = 0) -> float | int:
    """Round halves up (14.5 → 15), as people do with percentages; banker's rounding would not."""
    q = Decimal(1).scaleb(-int(digits))
    value = Decimal(str(x)).quantize(q, rounding=ROUND_HALF_UP)
    return int(value) if digits == 0 else float(value)


def percent(part: float, whole: float) -> int | None:
    """Share of ``whole`` in whole percent; no share of nothing.

    >>> [percent(n, 58) for n in (8, 23, 27)]
    [14, 40, 47]
    """
    if not whole:
        return None
    return round_half_up(part * 100 / whole)


# -- identity codes (personal ones: engine/personal.py) -----------------------------------

_YTUNNUS = re.compile(r"^(\d{7})-(\d)$")
_YT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)


def valid_ytunnus(code: str) -> bool:
    """A Y-tunnus ``NNNNNNN-C``; a weighted sum with remainder 1 has no valid check digit.

    >>> valid_ytunnus("1572860-0"), valid_ytunnus("1000008-0")
    (True, False)
    """
    m = _YTUNNUS.match(code) if isinstance(code, str) else None
    if not m:
        return False
    r = sum(int(c) * w for c, w in zip(m.group(1), _YT_WEIGHTS, strict=True)) % 11
    if r == 1:
        return False
    return int(m.group(2)) == (0 if r == 0 else 11 - r)


# -- the registry ------------------------------------------------------------------------

_TypeRule = Callable[[list[str]], str]   # argument types → result type, or raise TypeError


@dataclass(frozen=True)
class Function:
    name: str
    min_args: int
    max_args: int
    check: _TypeRule
    impl: Callable[..., Any]
    none_safe: bool = False     # True: called even with missing arguments
    signature: str = ""


def _want(*expected: tuple[str, ...] | str, result: str) -> _TypeRule:
    def check(types: list[str]) -> str:
        for i, (got, want) in enumerate(zip(types, expected, strict=False), start=1):
            allowed = (want,) if isinstance(want, str) else want
            if got != "any" and got not in allowed:
                raise TypeError(f"argument {i} must be {' or '.join(allowed)}, not {got}")
        return result
    return check


def _numeric_result(types: list[str]) -> str:
    for i, t in enumerate(types, start=1):
        if t not in (*NUMERIC, "any"):
            raise TypeError(f"argument {i} must be a number, not {t}")
    return "integer" if all(t == "integer" for t in types) else "number"


def _list_items(t: str) -> str:
    if t == "any":
        return "any"
    if not t.startswith("list"):
        raise TypeError(f"argument 1 must be a list, not {t}")
    return t.partition(":")[2] or "any"


def _count_check(types: list[str]) -> str:
    _list_items(types[0])
    return "integer"


def _contains_check(types: list[str]) -> str:
    items = _list_items(types[0])
    if len(types) > 1 and not _compatible(items, types[1]):
        raise TypeError(f"a list of {items} cannot contain a {types[1]}")
    return "boolean"


def _all_in_check(types: list[str]) -> str:
    a, b = _list_items(types[0]), _list_items(types[1])
    if not _compatible(a, b):
        raise TypeError(f"cannot compare a list of {a} with a list of {b}")
    return "boolean"


def _coalesce_check(types: list[str]) -> str:
    a, b = types
    if not _compatible(a, b):
        raise TypeError(f"both arguments must have one type, not {a} and {b}")
    return b if a == "any" else a


def _compatible(a: str, b: str) -> bool:
    return a == b or "any" in (a, b) or (a in NUMERIC and b in NUMERIC)


def _round(x: float, digits: int = 0) -> float | int:
    return round_half_up(x, digits)


def _lookup(table: dict, key: Any, column: str | None = None) -> Any:
    # ``table`` arrives as the pair (name, rows) so a miss can name the table
    name, rows = table
    if key not in rows:
        raise LookupMiss(name, key, sorted(map(str, rows)))
    row = rows[key]
    if column is None:
        return row
    return row[column]


def _has_key(table: tuple[str, dict], key: Any) -> bool:
    return key in table[1]


def _lookup_or(table: tuple[str, dict], key: Any, *rest: Any) -> Any:
    """``lookup_or(table, key, default)`` or ``lookup_or(table, key, "column", default)``."""
    *column, default = rest
    if key not in table[1]:
        return default
    return _lookup(table, key, *column)


FUNCTIONS: dict[str, Function] = {f.name: f for f in [
    Function("add_days", 2, 2, _want("date", "integer", result="date"), add_days,
             signature="add_days(date, days)"),
    Function("add_weeks", 2, 2, _want("date", "integer", result="date"), add_weeks,
             signature="add_weeks(date, weeks)"),
    Function("add_months", 2, 2, _want("date", "integer", result="date"), add_months,
             signature="add_months(date, months)"),
    Function("days_between", 2, 2, _want("date", "date", result="integer"), days_between,
             signature="days_between(from_date, to_date)"),
    Function("months_between", 2, 2, _want("date", "date", result="integer"), months_between,
             signature="months_between(from_date, to_date)"),
    Function("year_of", 1, 1, _want("date", result="integer"), lambda d: d.year,
             signature="year_of(date)"),
    Function("month_of", 1, 1, _want("date", result="integer"), lambda d: d.month,
             signature="month_of(date)"),
    Function("day_of", 1, 1, _want("date", result="integer"), lambda d: d.day,
             signature="day_of(date)"),
    Function("date", 3, 3, _want("integer", "integer", "integer", result="date"), make_date,
             signature="date(year, month, day)"),
    Function("end_of_month", 1, 1, _want("date", result="date"), end_of_month,
             signature="end_of_month(date)"),
    # lookup/has_key are type-checked by the expression checker, which knows the table
    Function("lookup", 2, 3, _want("table", "any", "string", result="any"), _lookup,
             signature='lookup(table, key) or lookup(table, key, "column")'),
    Function("has_key", 2, 2, _want("table", "any", result="boolean"), _has_key,
             signature="has_key(table, key)"),
    Function("lookup_or", 3, 4, _want("table", "any", "any", "any", result="any"), _lookup_or,
             none_safe=True, signature='lookup_or(table, key, default) or '
             'lookup_or(table, key, "column", default)'),
    Function("length", 1, 1, _count_check, len, signature="length(list)"),
    Function("count", 2, 2, _count_check, lambda xs, v: list(xs).count(v),
             signature="count(list, value)"),
    Function("distinct", 1, 1, _count_check, lambda xs: len(set(xs)),
             signature="distinct(list)"),
    Function("contains", 2, 2, _contains_check, lambda xs, v: v in xs,
             signature="contains(list, value)"),
    Function("all_in", 2, 2, _all_in_check, lambda xs, ys: all(x in ys for x in xs),
             signature="all_in(list, allowed_list)"),
    Function("min", 2, 2, _numeric_result, min, signature="min(a, b)"),
    Function("max", 2, 2, _numeric_result, max, signature="max(a, b)"),
    Function("abs", 1, 1, _numeric_result, abs, signature="abs(x)"),
    Function("round", 1, 2, _want(NUMERIC, "integer", result="number"), _round,
             signature="round(x) or round(x, digits)"),
    Function("percent", 2, 2, _want(NUMERIC, NUMERIC, result="integer"), percent,
             signature="percent(part, whole)"),
    Function("valid_hetu", 1, 1, _want(("hetu", "string"), result="boolean"), valid_hetu,
             signature="valid_hetu(code)"),
    Function("temporary_hetu", 1, 1, _want(("hetu", "string"), result="boolean"),
             temporary_hetu, signature="temporary_hetu(code)"),
    Function("valid_ytunnus", 1, 1, _want("string", result="boolean"), valid_ytunnus,
             signature="valid_ytunnus(code)"),
    Function("coalesce", 2, 2, _coalesce_check, lambda a, b: b if a is None else a,
             none_safe=True, signature="coalesce(value, fallback)"),
]}
