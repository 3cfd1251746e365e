"""A request schema compiled into plain checks: the decision endpoints' shortcut past marshmallow.

Loading a decision request through webargs and marshmallow costs more than deciding it.
:class:`FastLoader` reads a schema's fields once, at import, and turns each into one small
check; a body that passes every check is loaded without marshmallow. Anything else — a
missing or unknown field, a wrong type, a value a validator refuses, ``null`` — goes to the
schema itself, which answers it exactly as the schema would (the same 422 naming the same field,
or the same loaded values if the shortcut was merely cautious). So the schema stays the one
definition of the request: it is what the OpenAPI document shows and what decides every case
the shortcut does not plainly accept, and a field or validator the compiler does not know
makes it refuse the schema at import instead of guessing. ``tests/service/test_fastload.py``
keeps both equal over a corpus of valid and invalid bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from marshmallow.utils import missing

from engine.facts import parse_date
from engine.schema import StrictBool
from service.marshmallow_hooks import has_hooks
from service.schemas import IsoDate

__all__ = ["FastLoader"]

_INVALID = object()         # a check's answer for "not plainly valid: ask the schema"

_Check = Callable[[Any], Any]


class FastLoader:
    """``schema.load`` for request bodies, with a compiled shortcut for plainly valid ones."""

    def __init__(self, schema: Schema):
        if schema.unknown != RAISE or schema.partial or schema.only or schema.exclude:
            raise TypeError(f"{type(schema).__name__}: only strict, whole schemas compile")
        if has_hooks(schema):
            raise TypeError(f"{type(schema).__name__}: schema hooks (pre_load, validates …) "
                            "do not compile")
        self.schema = schema
        self._known = frozenset(f.data_key or name for name, f in schema.load_fields.items())
        self._fields = tuple(
            (field.data_key or name, field.attribute or name, field.required,
             field.load_default, field.allow_none, _compile(name, field))
            for name, field in schema.load_fields.items())

    def plain(self, data: Any) -> dict[str, Any] | None:
        """The loaded body when every field is plainly valid, else None (then :meth:`load`
        or the schema decides)."""
        if type(data) is not dict or not self._known.issuperset(data):
            return None
        out: dict[str, Any] = {}
        for key, attribute, required, default, allow_none, check in self._fields:
            value = data.get(key, missing)
            if value is missing:
                if required:
                    return None
                if default is not missing:
                    out[attribute] = default() if callable(default) else default
                continue
            if value is None:
                if not allow_none:
                    return None
                out[attribute] = None
                continue
            value = check(value)
            if value is _INVALID:
                return None
            out[attribute] = value
        return out

    def load(self, data: Any) -> dict[str, Any]:
        """What ``schema.load(data)`` returns, or its ``ValidationError``."""
        loaded = self.plain(data)
        return self.schema.load(data) if loaded is None else loaded


def _compile(name: str, field: fields.Field) -> _Check:
    """One field's check: its value as the schema would load it, or ``_INVALID``."""
    kind = type(field)            # exact: a subclass may deserialize differently
    if kind is fields.String:
        return _string(name, field.validators)
    if field.validators:
        raise TypeError(f"{name}: validators on {kind.__name__} do not compile")
    if kind is IsoDate:
        return _date
    if kind is StrictBool:
        return _boolean
    if kind is fields.Dict and _text_keys(field.key_field) and _any_value(field.value_field):
        return _mapping
    raise TypeError(f"{name}: {kind.__name__} does not compile")


def _string(name: str, validators: list[Any]) -> _Check:
    low, high, choices, patterns = 0, None, None, []
    for v in validators:
        if type(v) is validate.Length and v.equal is None:
            low = max(low, v.min or 0)
            if v.max is not None:
                high = v.max if high is None else min(high, v.max)
        elif type(v) is validate.Regexp:
            patterns.append(v.regex)
        elif type(v) is validate.OneOf:
            choices = frozenset(c for c in v.choices if isinstance(c, str))
        else:
            raise TypeError(f"{name}: validator {v!r} does not compile")

    def check(value: Any) -> Any:
        if type(value) is not str or len(value) < low or (high is not None and
                                                          len(value) > high):
            return _INVALID
        if choices is not None and value not in choices:
            return _INVALID
        for pattern in patterns:
            if pattern.match(value) is None:        # match, as validate.Regexp does
                return _INVALID
        return value

    return check


def _date(value: Any) -> Any:
    if type(value) is not str:
        return _INVALID
    try:
        return parse_date(value)
    except Exception:               # whatever it is, the schema says it
        return _INVALID


def _boolean(value: Any) -> Any:
    return value if type(value) is bool else _INVALID


def _mapping(value: Any) -> Any:
    if type(value) is not dict or not all(type(k) is str for k in value):
        return _INVALID
    return dict(value)


def _text_keys(field: fields.Field | None) -> bool:
    """Keys that are any text: every key of a JSON object is."""
    return type(field) is fields.String and not field.validators


def _any_value(field: fields.Field | None) -> bool:
    """Values taken as they are, null included."""
    return type(field) is fields.Raw and not field.validators and field.allow_none
