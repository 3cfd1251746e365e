"""Request facts → checked, coerced values (deriving is :mod:`engine.derive`).

durable_rules compares mixed types as strings (``'9' > 100`` is true), so nothing reaches it
unchecked: every fact is validated against the action's declaration and coerced (dates to
``datetime.date``, whole floats to int). Errors name the fact, so a provider knows what to
fix.

Blank text carries no content: a ``string`` or ``hetu`` fact sent as ``""``, ``"   "`` or
only invisible characters is treated as not sent when the fact is optional (so ``is missing``
rules see it, and a ``default`` applies), and is refused with "must not be blank" when it is
required. Blank items of a list are refused too: a list item has no "missing" to fall back to.

>>> from engine.model import ActionSpec, FactSpec
>>> spec = ActionSpec("a", {}, {"n": FactSpec("n", "integer", min=0)}, ())
>>> check_facts(spec, {"n": 3.0})
{'n': 3}
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

from engine.errors import FactError, FactProblem
from engine.invisible import is_blank
from engine.model import ActionSpec, FactSpec

__all__ = [
    "MAX_ITEMS",
    "MAX_NUMBER",
    "MAX_TEXT",
    "check_facts",
    "check_value",
    "compile_checker",
    "parse_date",
]

MAX_TEXT = 10_000
MAX_ITEMS = 1_000
MAX_NUMBER = 10**15       # beyond this floats lose whole units and durable needs exponents


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


_TEXT_TYPES = ("string", "hetu")


def parse_date(value: Any) -> dt.date:
    """A date from ``YYYY-MM-DD`` text (or a date already); ``ValueError`` otherwise."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    # fromisoformat alone would also take "2025-W01-1" and "20250101"
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:       # 2024-02-30: the calendar has no such day
            raise FactProblem("no_such_day", str(exc)) from None
    raise FactProblem("not_date", "must be a date written YYYY-MM-DD")


def _scalar(kind: str, value: Any) -> Any:
    if kind in ("string", "hetu"):
        if not isinstance(value, str):
            raise FactProblem("not_text", "must be text")
        if len(value) > MAX_TEXT:
            raise FactProblem("too_long", f"is longer than {MAX_TEXT} characters", max=MAX_TEXT)
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise FactProblem("not_unicode",
                                  "contains characters that are not valid Unicode") from None
        if is_blank(value):
            # reached only by required facts and list items (check_facts drops an optional
            # fact's blank text first) and by one_of/default values checked in schema.py
            raise FactProblem("blank", "must not be blank")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise FactProblem("not_boolean", "must be true or false")
        return value
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FactProblem("not_number", "must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise FactProblem("not_finite", "must be a finite number")
        if abs(value) >= MAX_NUMBER:
            raise FactProblem("too_large", "must be between -10^15 and 10^15")
        if kind == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise FactProblem("not_whole", "must be a whole number")
            return int(value)
        return value
    if kind == "date":
        return parse_date(value)
    raise FactProblem("unknown_type", f"unknown type {kind}", type=kind)


def check_value(spec: FactSpec, value: Any) -> Any:
    """One value against its declaration; ``ValueError`` says what is wrong."""
    return _check_one(spec, value)


def _check_one(spec: FactSpec, value: Any) -> Any:
    if spec.type == "list":
        if not isinstance(value, list):
            raise FactProblem("not_list", f"must be a list of {spec.items}", items=spec.items)
        if len(value) > MAX_ITEMS:
            raise FactProblem("too_many_items", f"has more than {MAX_ITEMS} items",
                              max=MAX_ITEMS)
        out = []
        for i, item in enumerate(value):
            try:
                out.append(_scalar(spec.items or "string", item))
            except FactProblem as exc:
                raise FactProblem(exc.code, f"item {i + 1} {exc}", **exc.params,
                                  item=i + 1) from None
        value = out
    else:
        value = _scalar(spec.type, value)
    if spec.one_of is not None:
        items = value if isinstance(value, list) else [value]
        wrong = [v for v in items if v not in spec.one_of]
        if wrong:
            allowed = ", ".join(map(str, spec.one_of))
            raise FactProblem("not_one_of", f"{wrong[0]!r} is not one of: {allowed}",
                              value=wrong[0], allowed=list(spec.one_of))
    if spec.min is not None and value < spec.min:
        raise FactProblem("below_min", f"must be at least {spec.min}", min=spec.min)
    if spec.max is not None and value > spec.max:
        raise FactProblem("above_max", f"must be at most {spec.max}", max=spec.max)
    return value


def check_facts(action: ActionSpec, facts: Any) -> dict[str, Any]:
    """Validate and coerce a request's facts; raise :class:`FactError` naming every bad one."""
    return compile_checker(action)(facts)


def compile_checker(action: ActionSpec) -> Callable[[Any], dict[str, Any]]:
    """:func:`check_facts` for one action, built once at load (the plan keeps it).

    Each fact gets a closure that returns a value it can see is valid at once (text that is
    plain ASCII and not blank, a whole number within its limits, a yes/no) and hands
    anything else to the one full check, which coerces or explains. So the answer is always
    the full check's; a test keeps the two equal over a corpus of values. A request whose
    values are all plainly valid goes through one generated function (:func:`_straight`).

    >>> from engine.model import ActionSpec, FactSpec
    >>> spec = ActionSpec("a", {}, {"n": FactSpec("n", "integer", min=0)}, ())
    >>> compile_checker(spec)({"n": 2.0}), compile_checker(spec)({"n": 5})
    ({'n': 2}, {'n': 5})
    """
    known = action.facts
    steps = tuple(
        (name, spec, spec.type in _TEXT_TYPES and not spec.required, _compile_one(spec))
        for name, spec in known.items())
    keys = known.keys()

    def full(facts: Any) -> dict[str, Any]:
        if not isinstance(facts, dict):
            raise FactError({"facts": [FactProblem(
                "not_object", "must be an object of fact names and values")]})
        errors: dict[str, list[str | FactProblem]] = {}
        if not facts.keys() <= keys:
            _unknown(action, facts, errors)
        out: dict[str, Any] = {}
        get = facts.get
        for name, spec, blank_is_missing, one in steps:
            value = get(name)
            if (blank_is_missing and type(value) is str and len(value) <= MAX_TEXT
                    and is_blank(value)):
                value = None            # blank text of an optional fact = not sent
            if value is None:
                if spec.default is not None:
                    value = spec.default
                elif spec.required:
                    errors[name] = [FactProblem("required", f"required ({spec.type})",
                                                  type=spec.type)]
                    continue
                else:
                    continue
            try:
                out[name] = one(value)
            except ValueError as exc:
                errors[name] = [exc if isinstance(exc, FactProblem) else str(exc)]
        if errors:
            raise FactError(errors)
        return out
    return _straight(steps, keys, full)


def _straight(steps: tuple[tuple[str, FactSpec, bool, Callable[[Any], Any]], ...],
              keys: Any, full: Callable[[Any], dict[str, Any]]) -> Callable[[Any], Any]:
    """The checker as one generated function, for requests whose every value is plainly
    valid: per fact one look-up and the shortcut's test written out in line, without the
    loop, closure calls and error bookkeeping of ``full`` (a decision's largest share after
    the rules). Anything else — a value it cannot see is valid, a missing fact that is
    required or whose default is not plain, an unknown name — is handed to ``full``, which
    answers; ``tests/engine/test_facts.py`` keeps the two equal over a corpus of requests.

    The source holds only generated names and ``repr`` of the fact names; every value it
    compares with is passed in, never written into it.
    """
    env: dict[str, Any] = {"full": full, "keys": keys}
    lines = ["def check(facts):",
             "    if type(facts) is not dict:",
             "        return full(facts)",
             "    get = facts.get",
             "    out = {}",
             "    filled = 0"]
    for n, (name, spec, _, one) in enumerate(steps):
        key = repr(name)
        lines.append(f"    v = get({key})")
        plain = _plain(spec, n, env)
        lines += ["    if v is None:", f"        {_when_missing(spec, n, env)}",
                  f"    elif {plain}:", f"        out[{key}] = v", "    else:"]
        if plain == "False":
            env[f"one{n}"] = one
            lines += ["        try:", f"            out[{key}] = one{n}(v)",
                      "        except ValueError:", "            return full(facts)"]
        else:
            lines.append("        return full(facts)")
    # every name sent is a known one when as many were sent as known ones were found (the
    # values not None, so not the defaults filled in): only otherwise are the names compared
    lines += ["    if len(facts) != len(out) - filled and not facts.keys() <= keys:",
              "        return full(facts)",
              "    return out"]
    exec("\n".join(lines), env)          # generated from the action's own declarations
    return env["check"]


# texts kept per fact as seen valid: enough for a table's keys (a thousand course types)
# without emptying the set on every pass; only short texts, which are what repeats (a code,
# a service, a phase), so a fact's set holds at most some hundreds of kilobytes
_SEEN_MAX = 4096
_SEEN_LEN = 64


def _remember(seen: set[str], text: str) -> bool:
    """Keep ``text`` (already tested valid) for the next look-up; always True. A full set
    is emptied and starts again, so it keeps up with values that change over time."""
    if len(text) <= _SEEN_LEN:
        if len(seen) >= _SEEN_MAX:
            seen.clear()
        seen.add(text)
    return True


def _when_missing(spec: FactSpec, n: int, env: dict[str, Any]) -> str:
    """The statement for a fact not sent (``None``): as ``full`` does, when it is plain."""
    if spec.default is None:
        return "return full(facts)" if spec.required else "pass"
    try:
        value = _check_one(spec, spec.default)
    except ValueError:
        return "return full(facts)"
    if type(value) not in (str, int, float, bool):     # a list or a date: let full copy it
        return "return full(facts)"
    env[f"default{n}"] = value
    return f"out[{spec.name!r}] = default{n}; filled += 1"


def _plain(spec: FactSpec, n: int, env: dict[str, Any]) -> str:
    """The test (source) that ``v`` is plainly valid for ``spec``, as :func:`_compile_one`'s
    shortcut sees it; ``"False"`` where it has none (the fact's own check is called)."""
    one_of, lo, hi = spec.one_of, spec.min, spec.max
    if spec.type in _TEXT_TYPES and lo is None and hi is None:
        if one_of is not None:
            env[f"choices{n}"] = one_of
            return f"type(v) is str and v in choices{n}"
        # text seen valid before is valid again: one look-up for the values that repeat
        # (a service, a phase, a table's key); at most _SEEN_MAX short texts kept per fact
        env[f"seen{n}"] = set()
        env["remember"] = _remember
        return (f"type(v) is str and (v in seen{n} or (0 < len(v) <= {MAX_TEXT} "
                f"and v.isascii() and not v.isspace() and remember(seen{n}, v)))")
    if spec.type in ("integer", "number") and one_of is None:
        # a number keeps a float as sent (NaN and infinities fail the comparisons); an
        # integer's whole float becomes an int, which only its own check does
        kind = "(type(v) is int or type(v) is float)" if spec.type == "number" \
            else "type(v) is int"
        test = f"{kind} and {-MAX_NUMBER} < v < {MAX_NUMBER}"
        if lo is not None:
            env[f"low{n}"] = lo
            test += f" and low{n} <= v"
        if hi is not None:
            env[f"high{n}"] = hi
            test += f" and v <= high{n}"
        return test
    if spec.type == "boolean" and one_of is None and lo is None and hi is None:
        return "type(v) is bool"
    return "False"


def _unknown(action: ActionSpec, facts: dict[str, Any],
             errors: dict[str, list[str | FactProblem]]) -> None:
    unknown = [str(name) for name in facts if name not in action.facts]
    # The action's facts once, with the first unknown name: repeated for each of 20,000
    # unknown names they made an 8 MB answer (the service also caps the names it lists).
    known = ", ".join(sorted(action.facts)) or "none"
    errors[unknown[0]] = [FactProblem(
        "unknown_fact_listed", f"not a fact of action {action.name} (its facts: {known})",
        action=action.name, known=sorted(action.facts))]
    for name in unknown[1:]:
        errors[name] = [FactProblem("unknown_fact", f"not a fact of action {action.name}",
                                    action=action.name)]


def _compile_one(spec: FactSpec) -> Callable[[Any], Any]:
    """``_check_one(spec, ·)`` with a shortcut for values that are plainly valid."""
    def full(value: Any) -> Any:
        return _check_one(spec, value)

    one_of, lo, hi = spec.one_of, spec.min, spec.max
    if spec.type in _TEXT_TYPES and lo is None and hi is None:
        if one_of is not None:
            def choice(value: Any) -> Any:
                # one_of values are checked at load: an equal text is a valid one
                return value if type(value) is str and value in one_of else full(value)
            return choice

        def text(value: Any) -> Any:
            if (type(value) is str and 0 < len(value) <= MAX_TEXT and value.isascii()
                    and not value.isspace()):
                return value
            return full(value)
        return text
    if spec.type in ("integer", "number") and one_of is None:
        low = -MAX_NUMBER if lo is None else lo
        high = MAX_NUMBER if hi is None else hi

        def whole(value: Any) -> Any:
            if (type(value) is int and -MAX_NUMBER < value < MAX_NUMBER
                    and low <= value <= high):
                return value
            return full(value)
        return whole
    if spec.type == "boolean" and one_of is None and lo is None and hi is None:
        return lambda value: value if type(value) is bool else full(value)
    return full
