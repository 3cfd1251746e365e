"""Policy files → :class:`~engine.model.PolicyVersion`, with every problem at its line.

Two stages, both collecting instead of stopping at the first problem:

1. *shape* — marshmallow schemas check keys and types (unknown keys, wrong types, missing
   languages). Their error paths are mapped back to lines through :mod:`engine.loader`.
2. *meaning* — names, functions, types of expressions and message placeholders, checked on
   the raw document so that a shape error in one rule does not hide a misspelled parameter
   in another.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import hashlib
import re
import string
from pathlib import Path
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from engine import expressions as ex
from engine.errors import Problem
from engine.facts import check_value
from engine.folder import Limits
from engine.invisible import is_blank
from engine.loader import (
    LineDict,
    LineList,
    Reported,
    line_at,
    locate,
    looks_typed,
    plain,
    read_yaml_bytes,
)
from engine.messages import render
from engine.model import (
    EFFECTS,
    LANGUAGES,
    ActionSpec,
    Derived,
    FactSpec,
    Label,
    PolicyVersion,
    Rule,
    json_form,
)
from engine.text import ServiceText, citation_views, find_quote, resolve_citation
from engine.usage import usage_of

__all__ = [
    "FACT_TYPES",
    "ITEM_TYPES",
    "MAX_PROBLEMS",
    "NAME_RE",
    "POLICY_RE",
    "RESERVED",
    "RULE_ID",
    "ActionSchema",
    "Change",
    "CheckSchema",
    "Cite",
    "FactSchema",
    "LabelSchema",
    "Languages",
    "NameOrNames",
    "OneOf",
    "PolicySchema",
    "RuleSchema",
    "Source",
    "StrictBool",
    "StrictNumber",
    "Trilingual",
    "YamlDate",
    "check_version",
    "digest_of",
    "load_version",
    "parse_version",
    "shape_problems",
]

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# what a rule id looks like: the domain id, a number, then anything of [A-Za-z0-9-]
RULE_ID = re.compile(r"[A-Z]{2,3}-[0-9]+[A-Za-z0-9-]*")
POLICY_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
RESERVED = {"id", "sid", "as_of"}
FACT_TYPES = ("string", "integer", "number", "boolean", "date", "hetu", "list")
ITEM_TYPES = ("string", "integer", "number", "date", "hetu")
_TEXT = {"invalid": "must be text (put it in quotes)"}
MAX_PROBLEMS = 100                  # per file and stage: past this, one line says how many
_REPORTED = "already reported"      # a value the YAML reader has reported: say nothing more


# -- stage 1: shape ----------------------------------------------------------------------

class YamlDate(fields.Field):
    """A date written as ``2025-04-01`` (YAML reads it as a date) or as quoted ISO text."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, Reported):
            raise ValidationError(_REPORTED)
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise ValidationError("must be a date written YYYY-MM-DD")


class NameOrNames(fields.Field):
    """``action: rehab_day`` or ``action: [move_course, delete_course]``."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[str]:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ValidationError("must be an action name or a list of action names")
        return names


class OneOf(fields.Field):
    """``one_of: [a, b]``, or the name of a table (its keys) or list parameter, so a value
    set is written once: ``one_of: quality_area_names``."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) or (isinstance(value, list) and value):
            return value
        raise ValidationError("must be a list of values ([a, b]) or the name of a table or "
                              "list parameter whose keys or items are the values")


class StrictBool(fields.Boolean):
    """``true`` or ``false`` as YAML or JSON reads them; never the text "no", nor 1.

    The one strict boolean: the service's request schemas use it too, with their own
    message (``error_messages={"invalid": …}``)."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "must be true or false"}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictNumber(fields.Field):
    """A number as YAML reads it; never the text "5"."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("must be a number")
        return value


def _text(**kw: Any) -> fields.String:
    kw["error_messages"] = {**_TEXT, **kw.get("error_messages", {})}
    return fields.String(**kw)


def _not_blank(language: str) -> Any:
    def check(value: str) -> None:
        if is_blank(value):
            raise ValidationError(f"the {language} text is empty — write it")
    return check


class Languages(Schema):
    class Meta:
        unknown = RAISE

    fi = _text(required=True, validate=_not_blank("Finnish"),
               error_messages={"required": "missing the Finnish text (fi)"})
    sv = _text(required=True, validate=_not_blank("Swedish"),
               error_messages={"required": "missing the Swedish text (sv)"})
    en = _text(required=True, validate=_not_blank("English"),
               error_messages={"required": "missing the English text (en)"})


_ONE_TEXT = "one text without languages"


class Trilingual(fields.Nested):
    """``{fi, sv, en}`` (:class:`Languages`), like a message. A single text is the mistake of
    a note written in one language: say how to write it, not "not a mapping"."""

    def __init__(self, **kwargs: Any):
        super().__init__(Languages, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            raise ValidationError(f"{_ONE_TEXT} — write it in Finnish, Swedish and English, "
                                  "as a message is written: {fi: …, sv: …, en: …}")
        return super()._deserialize(value, attr, data, **kwargs)


class Source(Schema):
    document = _text(required=True)
    revision = _text()
    seed = _text()
    url = _text()
    note = _text()


class Change(Languages):
    cite = _text()


def _reason(value: str) -> None:
    if is_blank(value):
        raise ValidationError("say why the rule stands as it is (e.g. it reads the workplace "
                              "hours, which the changed sentence keeps at 5)")


class Cite(Schema):
    seed = _text(required=True)
    section = _text(required=True)
    quote = _text()
    interpretation = Trilingual()
    url = _text()
    note = _text()


def _reason_given(value: str) -> None:
    if is_blank(value):
        raise ValidationError("say why the fact is kept although no rule reads it (e.g. "
                              "kept_for: the decision log shows who signed)")


class FactSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(FACT_TYPES))
    items = fields.String(validate=validate.OneOf(ITEM_TYPES))
    optional = StrictBool()
    default = fields.Raw(allow_none=False)
    one_of = OneOf()
    min = StrictNumber()
    max = StrictNumber()
    kept_for = _text(validate=_reason_given)



class LabelSchema(Schema):
    """``labels: <name>:`` — what people call a fact, derived value or parameter."""

    label = Trilingual(required=True)
    help = Trilingual()
    values = fields.Dict(keys=fields.Raw(), values=Trilingual())


class ActionSchema(Schema):
    title = fields.Nested(Languages)
    facts = fields.Dict(keys=fields.String(), values=fields.Nested(FactSchema), required=True)
    derive = fields.Dict(keys=fields.String(), values=_text())
    version_by = _text()


class RuleSchema(Schema):
    id = _text(required=True)
    action = NameOrNames(required=True)
    when = _text()
    effect = fields.String(required=True, validate=validate.OneOf(EFFECTS))
    due = _text()
    set = fields.Dict(keys=fields.String(), values=_text())
    cite = fields.Nested(Cite, required=True)
    message = fields.Nested(Languages, required=True)


class CheckSchema(Schema):
    id = _text(required=True)
    for_each = _text()
    that = _text(required=True)
    message = fields.Nested(Languages, required=True)


class PolicySchema(Schema):
    policy = _text(required=True)
    version = _text(required=True)
    extends = _text()
    version_by = _text()
    checks = fields.List(fields.Nested(CheckSchema))
    effective_from = YamlDate(required=True)
    title = fields.Nested(Languages, required=True)
    source = fields.Nested(Source, required=True)
    changes = fields.List(fields.Nested(Change))
    reviewed = fields.Dict(keys=fields.String(), values=_text(validate=_reason))
    parameters = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=False))
    actions = fields.Dict(keys=fields.String(), values=fields.Nested(ActionSchema),
                          required=True)
    rules = fields.List(fields.Nested(RuleSchema), required=True)
    labels = fields.Dict(keys=fields.String(), values=fields.Nested(LabelSchema))


def _allowed_keys(schema: Schema, path: list[Any]) -> list[str]:
    """The keys a mapping at ``path`` may have, for 'unknown key' messages."""
    current: Any = schema
    for key in path:
        if isinstance(current, Schema):
            current = current.fields.get(key) if isinstance(key, str) else None
        elif isinstance(current, fields.List):       # key is the item's index
            current = current.inner
        elif isinstance(current, fields.Dict):       # key is the mapping's key
            current = current.value_field
        if isinstance(current, fields.Nested):
            current = current.schema
    return sorted(current.fields) if isinstance(current, Schema) else []


def _flatten(errors: Any, path: list[Any], out: list[tuple[list[Any], str]]) -> None:
    if isinstance(errors, dict):
        for key, sub in errors.items():
            # marshmallow nests Dict errors under the dict key, then "key"/"value"
            if key == "value" and path and path[-1] != "value":
                _flatten(sub, path, out)
            elif key == "key":
                _flatten(sub, path, out)
            else:
                _flatten(sub, [*path, key], out)
    elif isinstance(errors, list):
        for message in errors:
            if isinstance(message, (dict, list)):
                _flatten(message, path, out)
            else:
                out.append((path, str(message)))


def shape_problems(doc: Any, schema: Schema, path: str) -> list[Problem]:
    """Run a marshmallow schema over a YAML document; each error becomes a line problem."""
    if not isinstance(doc, LineDict):
        return [Problem(path, getattr(doc, "line", 1) or 1,
                        "the file must be a mapping of keys (policy, version, rules …)",
                        "shape")]
    try:
        schema.load(doc)
    except ValidationError as exc:
        flat: list[tuple[list[Any], str]] = []
        _flatten(exc.messages, [], flat)
        flat = [(p, m) for p, m in flat if m != _REPORTED]
        out = [_shape_problem(doc, schema, path, p, m) for p, m in flat[:MAX_PROBLEMS]]
        if len(flat) > MAX_PROBLEMS:
            out.append(Problem(path, out[-1].line, f"… and {len(flat) - MAX_PROBLEMS:,} more "
                               "problems of this kind; fix these first", "too_many_problems"))
        return out
    return []


def _dotted(doc: Any, where: list[Any]) -> str:
    """``rule TT-1-short: message.sv`` rather than ``rules.0.message.sv``."""
    if len(where) >= 2 and where[0] in ("rules", "changes") and isinstance(where[1], int):
        items = doc.get(where[0])
        item = items[where[1]] if isinstance(items, list) and where[1] < len(items) else None
        rid = item.get("id") if isinstance(item, dict) else None
        head = (f"rule {rid}" if isinstance(rid, str) and where[0] == "rules"
                else f"{where[0][:-1]} {where[1] + 1}")
        rest = ".".join(str(k) for k in where[2:])
        return f"{head}: {rest}" if rest else head
    return ".".join(str(k) for k in where)


def _shape_problem(doc: Any, schema: Schema, path: str, where: list[Any], msg: str) -> Problem:
    key = where[-1] if where else ""
    dotted = _dotted(doc, where)
    if msg == "Unknown field.":
        allowed = _allowed_keys(schema, where[:-1])
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        msg = f"unknown key {key!r}; {hint}allowed here: {', '.join(allowed)}"
        return Problem(*locate(doc, where, path), msg, "unknown_key")
    if msg == "Missing data for required field.":
        msg = f"{dotted}: missing; add it"
        return Problem(*locate(doc, where[:-1], path), msg, "missing_key")
    if msg.startswith("missing the"):
        return Problem(*locate(doc, where[:-1], path), f"{dotted}: {msg}"
                       + _add_language(doc, where), "missing_language")
    if msg.startswith(_ONE_TEXT):
        return Problem(*locate(doc, where, path), f"{dotted}: {msg}", "missing_language")
    code = "wrong_type"
    if msg.startswith("Must be one of"):
        msg = msg.replace("Must be one of", "must be one of").rstrip(".")
        code = "bad_value"
    elif msg in ("Not a valid mapping type.", "Invalid input type."):
        msg = "must be a mapping of keys"
    elif msg == "Not a valid list.":
        msg = "must be a list (items start with -)"
    elif msg in ("Not a valid number.", "Not a valid integer."):
        msg = "must be a number"
    elif msg == "Not a valid boolean.":
        msg = "must be true or false"
    elif msg == "Field may not be null.":
        msg = "must have a value"
    return Problem(*locate(doc, where, path), f"{dotted}: {msg}", code)


def _add_language(doc: Any, where: list[Any]) -> str:
    """How to fix a missing language: add it beside the ones written."""
    node: Any = doc
    for key in where[:-1]:
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return ""
    have = [lang for lang in LANGUAGES if isinstance(node, dict) and lang in node]
    return f" — add {where[-1]}: beside {', '.join(have)}" if have else ""


# -- stage 2: meaning --------------------------------------------------------------------

class _Collector:
    """Problems of one file, each at the line of the path it concerns.

    Unknown names and missing table columns are held back (``defer``) until the whole file
    is read: one misspelling read in six places is one problem, at the misspelled parameter
    or column when nothing reads that one, else at the first place that reads the name.
    """

    def __init__(self, doc: LineDict, path: str):
        self.doc, self.path, self.problems = doc, path, []
        self.seen: set[Any] = set()
        self.seen_params: set[str] = set()
        self.deferred: list[tuple[ex.ExprError, list[Any], str]] = []
        # names and (table, column) pairs a reported misspelling points at: read, by intent
        self.meant: set[Any] = set()
        self.removed: dict[str, tuple[str, int]] = getattr(doc, "removed", {})

    def add(self, where: list[Any], message: str, code: str) -> None:
        self.problems.append(Problem(*locate(self.doc, where, self.path), message, code))

    def defer(self, exc: ex.ExprError, where: list[Any], what: str) -> None:
        self.deferred.append((exc, where, what))

    def settle(self, params: dict[str, Any]) -> None:
        """Turn the deferred names and columns into one problem per misspelling."""
        groups: dict[tuple[Any, ...], list[tuple[ex.ExprError, list[Any], str]]] = {}
        for exc, where, what in self.deferred:
            key = (("column", exc.table, exc.column) if isinstance(exc, ex.MissingColumn)
                   else ("name", exc.name))
            groups.setdefault(key, []).append((exc, where, what))
        for refs in groups.values():
            refs.sort(key=lambda r: locate(self.doc, r[1], self.path))
            exc, where, what = refs[0]
            first = locate(self.doc, where, self.path)
            also = sorted({locate(self.doc, w, self.path)[1] for _, w, _ in refs[1:]}
                          - {first[1]})
            more = f" (also read at line{'s' if len(also) > 1 else ''} " \
                   f"{', '.join(map(str, also))})" if also else ""
            if isinstance(exc, ex.MissingColumn):
                # the message lists the table's columns: none of them is "read by nothing"
                self.meant.update((exc.table, c) for c in exc.columns)
                self._settle_column(exc, where, what, first, len(refs), more, params)
            elif exc.name in self.removed:
                self._settle_removed(exc.name, refs)
            else:
                self.meant.add(exc.close)
                self._settle_name(exc, where, what, first, len(refs), more, params)

    def _settle_removed(self, name: str, refs: list[tuple[Any, list[Any], str]]) -> None:
        """A name the overlay removed that the base still reads: one problem, at the
        overlay's ``remove:`` line, listing the readers (usually in the untouched base)."""
        readers = []
        for _, where, what in refs:
            path, line = locate(self.doc, where, self.path)
            label = _dotted(self.doc, where) if where and where[0] == "rules" else what
            readers.append(f"{label} ({path}:{line})")
        self.add_at(self.removed[name], f"remove: {name} is still read by "
                    f"{'; '.join(dict.fromkeys(readers))} — take those away or rewrite them "
                    f"in this overlay too, or keep {name}", "removed_but_read")

    def add_at(self, where: tuple[str, int], message: str, code: str) -> None:
        self.problems.append(Problem(*where, message, code))

    def _settle_column(self, exc: Any, where: list[Any], what: str, first: tuple[str, int],
                       count: int, more: str, params: dict[str, Any]) -> None:
        close = difflib.get_close_matches(exc.column, exc.columns, n=1)
        # several readers agree on the name and nobody reads the column: the table is wrong
        if close and count > 1 and (exc.table, close[0]) not in self.seen:
            row = next((k for k, r in params.get(exc.table, {}).items()
                        if isinstance(r, dict) and close[0] in r), None)
            self.add(["parameters", exc.table, row, close[0]],
                     f"table {exc.table}: column {close[0]!r} is read nowhere, but "
                     f"{_places(count)} read {exc.column!r} (first at line {first[1]}) — "
                     f"did you mean {exc.column!r}? Rename the column", "unknown_column")
            return
        hint = f"did you mean {close[0]!r}? " if close else ""
        self.add(where, f"{what}: table {exc.table} has no column {exc.column!r} — {hint}"
                 f"columns: {', '.join(exc.columns)}{more}", "unknown_column")

    def _settle_name(self, exc: Any, where: list[Any], what: str, first: tuple[str, int],
                     count: int, more: str, params: dict[str, Any]) -> None:
        if exc.close in params and exc.close not in self.seen and count > 1:
            self.add(["parameters", exc.close],
                     f"parameter {exc.close!r} is read nowhere, but {_places(count)} read "
                     f"{exc.name!r} (first at line {first[1]}) — did you mean {exc.name!r}? "
                     "Rename the parameter", "unknown_name")
            return
        self.add(where, f"{what}: {exc}{more}", "bad_expression")


def _places(count: int) -> str:
    return "1 place" if count == 1 else f"{count} places"


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(NAME_RE.match(value))


def _check_parameters(params: Any, c: _Collector) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(params, dict):
        return out
    for name, value in params.items():
        where = ["parameters", name]
        if not _is_name(name) or name in RESERVED:
            c.add(where, f"parameter name {name!r}: use a-z, 0-9 and _, starting with a letter"
                  f" (not {', '.join(sorted(RESERVED))})", "bad_name")
            continue
        if isinstance(value, dict):
            shapes = {type(v) is LineDict for v in value.values()}
            # a malformed table is reported but kept, so rules that read it are still checked
            if len(shapes) > 1:
                c.add(where, f"table {name}: rows must all be values or all be mappings",
                      "bad_table")
            elif shapes == {True}:
                columns = [sorted(v) for v in value.values()]
                if any(cols != columns[0] for cols in columns):
                    c.add(where, f"table {name}: every row needs the same columns "
                          f"({', '.join(columns[0])})", "bad_table")
        out[name] = _unquote_check(plain(value), where, name, c)
    return out


def _unquote_check(value: Any, where: list[Any], label: str, c: _Collector) -> Any:
    """A number, yes/no or date written in quotes is text, and every rule that compares it
    would fail far from here: say so once, at the value, and keep the rules quiet."""
    if isinstance(value, str) and not isinstance(value, Reported):
        kind = looks_typed(value)
        if kind:
            c.add(where, f"{label} is text \"{value}\" — write {value} without quotes "
                  f"({kind})", "quoted_value")
            return Reported(value)
        return value
    if isinstance(value, dict):
        return {k: _unquote_check(v, [*where, k], f"{label}.{k}", c) for k, v in value.items()}
    return value


def _fact_spec(name: str, raw: Any, c: _Collector, where: list[Any],
               params: dict[str, Any]) -> FactSpec | None:
    if not isinstance(raw, dict) or raw.get("type") not in FACT_TYPES:
        return None
    ftype = raw["type"]
    items = raw.get("items")
    if ftype == "list" and items not in ITEM_TYPES:
        c.add(where, f"fact {name}: a list needs items: one of {', '.join(ITEM_TYPES)}",
              "bad_fact")
        return None
    if ftype != "list" and items is not None:
        c.add(where, f"fact {name}: items only applies to type list", "bad_fact")
    if ("min" in raw or "max" in raw) and ftype not in ("integer", "number"):
        c.add(where, f"fact {name}: min and max only apply to numbers", "bad_fact")
    default = raw.get("default")
    optional = bool(raw.get("optional", False))
    if "min" in raw and "max" in raw and _number(raw["min"]) and _number(raw["max"]) \
            and raw["min"] > raw["max"]:
        c.add(where, f"fact {name}: min {raw['min']} is above max {raw['max']}", "bad_fact")
    one_of, one_of_from = _one_of(name, raw.get("one_of"), params, c, [*where, "one_of"])
    bare = FactSpec(name=name, type=ftype, items=items)
    for label, values in (("default", [default] if default is not None else []),
                          ("one_of", list(one_of or ()) if one_of_from is None else [])):
        for value in values:
            try:
                check_value(bare, json_form(value))
            except ValueError as exc:
                c.add([*where, label], f"fact {name}: {label} {value!r} {exc}", "bad_fact")
    if one_of is not None and default is not None and ftype != "list" \
            and json_form(default) not in one_of:
        c.add([*where, "default"], f"fact {name}: default {default!r} is not one of its values "
              f"({_values(one_of)}); {_did_you_mean(default, one_of)}", "bad_fact")
    return FactSpec(
        name=name, type=ftype, items=items,
        required=not optional and default is None,
        default=default,
        one_of=one_of, one_of_from=one_of_from,
        min=raw.get("min"), max=raw.get("max"),
        personal=(ftype == "hetu" or items == "hetu"),
        kept_for=raw.get("kept_for"),
        line=line_at(c.doc, where),
    )


def _one_of(fact: str, raw: Any, params: dict[str, Any], c: _Collector,
            where: list[Any]) -> tuple[tuple[Any, ...] | None, str | None]:
    """The values a fact may take, and the parameter they come from when ``one_of`` names
    one: a table gives its keys, a list parameter its items."""
    if isinstance(raw, list):
        return tuple(json_form(v) for v in raw), None
    if not isinstance(raw, str):
        return None, None
    value = params.get(raw)
    if isinstance(value, dict) and value:
        return tuple(json_form(k) for k in value), raw
    if isinstance(value, list) and value and not any(isinstance(v, (dict, list))
                                                     for v in value):
        return tuple(json_form(v) for v in value), raw
    candidates = [p for p, v in params.items() if isinstance(v, (dict, list)) and v]
    what = "no parameter" if value is None else "not a table or a list of values"
    c.add(where, f"fact {fact}: one_of names {raw!r}, {what}; {_did_you_mean(raw, candidates)}"
          "name a table (its keys are the values) or a list parameter, or write the values "
          "as a list [a, b]", "bad_one_of")
    return None, None


def _values(values: Any, most: int = 12) -> str:
    shown = [str(v) for v in list(values)[:most]]
    return ", ".join(shown) + (f" … ({len(values)} in all)" if len(values) > most else "")


def _did_you_mean(value: Any, known: Any) -> str:
    close = difflib.get_close_matches(str(value), [str(k) for k in known], n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fact_type(spec: FactSpec) -> str:
    return f"list:{spec.items}" if spec.type == "list" else spec.type


def _parse_checked(text: Any, scope: ex.Scope, c: _Collector, where: list[Any],
                   what: str, want: str | None = None) -> tuple[Any, str] | None:
    if not isinstance(text, str):
        return None
    try:
        tree = ex.parse(text)
        kind = ex.check(tree, scope)
    except (ex.UnknownName, ex.MissingColumn) as exc:
        c.defer(exc, where, what)
        return None
    except ex.ExprError as exc:
        c.add(where, f"{what}: {exc}", "bad_expression")
        return None
    if want and kind not in (want, "any"):
        c.add(where, f"{what}: must give a {want}, but gives a {kind}", "wrong_type")
        return None
    if kind == "boolean":
        tree = ex.negation_normal_form(tree)
    return tree, kind


def _build_action(name: str, raw: Any, params: dict[str, Any], c: _Collector,
                  policy_version_by: Any = None) -> tuple[ActionSpec, ex.Scope] | None:
    where = ["actions", name]
    if not _is_name(name) or name in RESERVED:
        c.add(where, f"action name {name!r}: use a-z, 0-9 and _, starting with a letter",
              "bad_name")
        return None
    if not isinstance(raw, dict):
        return None
    facts: dict[str, FactSpec] = {}
    scope = ex.Scope(
        # a value the reader already refused (an impossible date) reads as anything, so the
        # rules that use it raise no second problem
        types={"as_of": "date", **{p: "any" if isinstance(v, Reported) else
                                   ex.type_of_value(v) for p, v in params.items()}},
        params=params,
        where={"as_of": "fact", **{p: "parameter" for p in params}},
        seen=c.seen,
    )
    raw_facts = raw.get("facts") if isinstance(raw.get("facts"), dict) else {}
    for fname, fraw in raw_facts.items():
        fwhere = [*where, "facts", fname]
        if not _is_name(fname) or fname in RESERVED:
            c.add(fwhere, f"fact name {fname!r}: use a-z, 0-9 and _, starting with a letter "
                  f"(not {', '.join(sorted(RESERVED))})", "bad_name")
            continue
        if fname in params:
            c.add(fwhere, f"fact {fname} has the name of a parameter; rename one", "name_clash")
        spec = _fact_spec(fname, fraw, c, fwhere, params)
        scope.types[fname] = _fact_type(spec) if spec else "any"
        scope.where[fname] = "fact"
        if spec:
            facts[fname] = spec
    derived: list[Derived] = []
    raw_derive = raw.get("derive") if isinstance(raw.get("derive"), dict) else {}
    for dname, text in raw_derive.items():
        dwhere = [*where, "derive", dname]
        if not _is_name(dname) or dname in RESERVED:
            c.add(dwhere, f"derived name {dname!r}: use a-z, 0-9 and _", "bad_name")
            continue
        if dname in scope.types:
            c.add(dwhere, f"{dname} is already a {scope.where[dname]}; pick another name",
                  "name_clash")
            continue
        parsed = _parse_checked(text, scope, c, dwhere, f"derive {dname}")
        scope.types[dname] = parsed[1] if parsed else "any"
        scope.where[dname] = "derived"
        if parsed:
            derived.append(Derived(dname, text, parsed[0], parsed[1],
                                   tuple(ex.names_in(parsed[0])), line_at(c.doc, dwhere)))
    title = raw.get("title") if isinstance(raw.get("title"), dict) else {}
    by = _version_by(raw.get("version_by", policy_version_by), facts, c,
                     [*where, "version_by"] if "version_by" in raw else ["version_by"], name)
    spec = ActionSpec(name, {k: str(v) for k, v in title.items()}, facts, tuple(derived),
                      line_at(c.doc, where), by, dict(scope.types), dict(scope.where))
    return spec, scope


def _version_by(by: Any, facts: dict[str, FactSpec], c: _Collector, where: list[Any],
                action: str) -> str:
    """``as_of`` or a date fact of the action: the date that chooses the version in force."""
    if by is None or by == "as_of" or not isinstance(by, str):
        return "as_of"
    spec = facts.get(by)
    if spec is None or spec.type != "date":
        dates = sorted(n for n, f in facts.items() if f.type == "date")
        close = difflib.get_close_matches(by, dates, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        c.add(where, f"version_by: action {action} has no date fact {by!r}; {hint}name one of "
              f"its date facts ({', '.join(dates) or 'none'}) or as_of", "bad_version_by")
        return "as_of"
    return by


_FORMATTER = string.Formatter()


def _check_message(message: Any, allowed: set[str], c: _Collector, where: list[Any],
                   personal: set[str]) -> None:
    if not isinstance(message, dict):
        return
    for lang in LANGUAGES:
        text = message.get(lang)
        if not isinstance(text, str):
            continue
        lwhere = [*where, lang]
        try:
            parts = list(_FORMATTER.parse(text))
        except ValueError as exc:
            c.add(lwhere, f"message {lang}: broken placeholder ({exc}); write {{name}}, "
                  "or {{ and }} for literal braces", "bad_placeholder")
            continue
        for _, field, spec, conv in parts:
            if field is None:
                continue
            if spec or conv or not _is_name(field):
                c.add(lwhere, f"message {lang}: placeholder {{{field}}} must be a plain name "
                      "like {hours_total}", "bad_placeholder")
            elif field in personal:
                c.add(lwhere, f"message {lang}: {{{field}}} would print a personal identity "
                      "code; leave it out of the message", "personal_placeholder")
            elif field not in allowed:
                close = difflib.get_close_matches(field, sorted(allowed), n=1)
                hint = f"; did you mean {{{close[0]}}}?" if close else ""
                c.add(lwhere, f"message {lang}: unknown placeholder {{{field}}}{hint}",
                      "bad_placeholder")


def _build_rule(i: int, raw: Any, actions: dict[str, tuple[ActionSpec, ex.Scope]],
                seen: dict[str, int], c: _Collector) -> Rule | None:
    where = ["rules", i]
    before = len(c.problems)
    if not isinstance(raw, dict):
        c.add(where, "a rule is a mapping with id, action, effect, cite and message", "shape")
        return None
    rid = raw.get("id")
    if isinstance(rid, str):
        if rid in seen:
            c.add([*where, "id"], f"rule id {rid} is used twice (first at line {seen[rid]}); "
                  "ids must be unique", "duplicate_rule")
        else:
            seen[rid] = line_at(c.doc, [*where, "id"])
        if not RULE_ID.fullmatch(rid):
            c.add([*where, "id"], f"rule id {rid!r} must start with the domain id, e.g. "
                  "CR-11-min-attached", "bad_rule_id")
    names = raw.get("action")
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list):
        return None
    ok = True
    for name in names:
        if isinstance(name, str) and name not in actions:
            close = difflib.get_close_matches(name, list(actions), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            c.add([*where, "action"], f"unknown action {name!r}{hint} (declare it under "
                  "actions)", "unknown_action")
            ok = False
    effect = raw.get("effect")
    if effect == "oblige" and "due" not in raw:
        c.add(where, "an oblige rule needs due: a date expression", "missing_key")
    if effect != "oblige" and "due" in raw:
        c.add([*where, "due"], "due only applies to effect oblige", "bad_key")
    if effect == "result" and not raw.get("set"):
        c.add(where, "a result rule needs set: the values it computes", "missing_key")
    if effect != "result" and "set" in raw:
        c.add([*where, "set"], "set only applies to effect result", "bad_key")
    if not ok or not isinstance(rid, str):
        return None
    when = due = None
    sets: dict[str, Any] = {}
    allowed: set[str] = set()
    personal: set[str] = set()
    for name in names:                       # a rule must make sense in every action it names
        spec, scope = actions[name]
        allowed |= {n for n, t in scope.types.items() if t != "table"}
        personal |= spec.personal
        if "when" in raw:
            parsed = _parse_checked(raw["when"], scope, c, [*where, "when"], "when",
                                    "boolean")
            when = parsed[0] if parsed else when
        if effect == "oblige" and "due" in raw:
            parsed = _parse_checked(raw["due"], scope, c, [*where, "due"], "due", "date")
            due = parsed[0] if parsed else due
        if effect == "result" and isinstance(raw.get("set"), dict):
            for key, text in raw["set"].items():
                if not _is_name(key):
                    c.add([*where, "set", key], f"result name {key!r}: use a-z, 0-9 and _",
                          "bad_name")
                    continue
                parsed = _parse_checked(text, scope, c, [*where, "set", key], f"set {key}")
                if parsed:
                    sets[key] = parsed[0]
    if effect == "oblige":
        allowed.add("due")
    if isinstance(raw.get("set"), dict):
        allowed |= {k for k in raw["set"] if isinstance(k, str)}
    _check_message(raw.get("message"), allowed, c, [*where, "message"], personal)
    if len(c.problems) > before:
        return None
    return Rule(
        id=rid, actions=tuple(names), effect=effect,
        # built even when the shape stage failed (then the file is refused anyway), so
        # read defensively
        when_source=raw.get("when"),
        cite={k: ({lang: str(t) for lang, t in v.items()} if isinstance(v, dict) else str(v))
              for k, v in _mapping(raw.get("cite")).items()},
        message={k: str(_mapping(raw.get("message")).get(k, "")) for k in LANGUAGES},
        due_source=raw.get("due"), set_sources=dict(raw.get("set") or {}),
        path=locate(c.doc, where, c.path)[0], line=line_at(c.doc, where),
        when=when, due=due, sets=sets,
    )


def load_version(path: Path) -> tuple[PolicyVersion | None, list[Problem]]:
    """Read, shape-check and meaning-check one version file on disk."""
    return parse_version(path.read_bytes(), str(path), path.parent.name, path.stem)


def parse_version(raw_bytes: bytes, spath: str, folder: str, stem: str,
                  limits: Limits | None = None) -> tuple[PolicyVersion | None, list[Problem]]:
    """Shape-check and meaning-check one version file's bytes (a file that extends no other).

    ``spath`` names the file in messages; ``folder`` and ``stem`` are the policy folder and
    the file name without ``.yaml``, which the file's ``policy`` and ``version`` must match.
    Returns the version (``None`` when anything is wrong) and every problem found.
    """
    doc, problems = read_yaml_bytes(raw_bytes, spath, limits)
    if doc is None:
        return None, problems
    version, found = check_version(doc, spath, folder, stem, digest_of(raw_bytes))
    problems += found
    return (None if problems else version), problems


def digest_of(raw_bytes: bytes, base_digest: str | None = None,
              text: bytes | None = None) -> str:
    """sha256 of a file; an overlay's covers its base's digest too, so the resolved content
    changes the digest whichever file of the chain changed. ``text`` is the version's own
    service-description text (:attr:`engine.text.ServiceText.raw`): a changed text is a new
    digest; a version without one keeps the digest it always had."""
    h = hashlib.sha256()
    if base_digest:
        h.update(f"extends {base_digest}\n".encode())
    h.update(raw_bytes)
    if text is not None:
        h.update(b"\0text\0" + text)
    return "sha256:" + h.hexdigest()


def check_version(doc: Any, spath: str, folder: str, stem: str, digest: str,
                  text: ServiceText | None = None,
                  ) -> tuple[PolicyVersion | None, list[Problem]]:
    """Check a (resolved) version document; problems carry the file each part came from.

    ``text`` is the version's service-description text, if it has one: every
    ``cite.section`` must then name its sections."""
    problems = shape_problems(doc, PolicySchema(), spath)
    if not isinstance(doc, LineDict):
        return None, problems
    c = _Collector(doc, spath)
    if isinstance(doc.get("policy"), str):
        if doc["policy"] != folder:
            c.add(["policy"], f"policy is {doc['policy']!r} but the file is in folder "
                  f"{folder!r}; they must match", "name_mismatch")
        elif not POLICY_RE.match(doc["policy"]):
            c.add(["policy"], "a policy name uses a-z, 0-9 and -", "bad_name")
    if isinstance(doc.get("version"), str) and doc["version"] != stem:
        c.add(["version"], f"version is {doc['version']!r} but the file is '{stem}.yaml'; "
              f"rename the file to {doc['version']}.yaml or fix the version", "name_mismatch")
    params = _check_parameters(doc.get("parameters") or {}, c)
    c.seen_params = set(params)
    _run_checks(doc.get("checks"), params, c)
    actions: dict[str, tuple[ActionSpec, ex.Scope]] = {}
    if isinstance(doc.get("actions"), dict):
        for name, raw in doc["actions"].items():
            built = _build_action(name, raw, params, c, doc.get("version_by"))
            if built:
                actions[name] = built
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    raw_rules = doc.get("rules") if isinstance(doc.get("rules"), LineList) else []
    for i, raw in enumerate(raw_rules):
        rule = _build_rule(i, raw, actions, seen, c)
        if rule:
            rules.append(rule)
    c.settle(params)
    _check_reads(doc, params, actions, c)
    _check_sendable(actions, rules, params, c)
    rules = _cite_sections(raw_rules, rules, text, stem, c)
    reviewed = _check_reviewed(doc, rules, c)
    labels = _check_labels(doc, params, actions, c)
    problems += c.problems
    if problems:
        return None, problems
    version = PolicyVersion(
        policy=doc["policy"], version=doc["version"],
        effective_from=YamlDate().deserialize(doc["effective_from"]),
        title=dict(doc["title"]), source={k: str(v) for k, v in doc["source"].items()},
        changes=tuple(plain(ch) for ch in doc.get("changes") or []),
        parameters=params,
        actions={n: a for n, (a, _) in actions.items()},
        rules=tuple(rules),
        digest=digest,
        path=spath,
        effective_line=line_at(doc, ["effective_from"]),
        extends=doc.get("extends"),
        text=text,
        reviewed=reviewed,
        labels=labels,
    )
    return version, []


# -- citations: cite.section names sections of the version's text ---------------------------

def _cite_sections(raw_rules: list[Any], rules: list[Rule], text: ServiceText | None,
                   version: str, c: _Collector) -> list[Rule]:
    """Each rule with the sections its ``cite.section`` names, and its citation as each
    decision language shows it; a name the text lacks is a problem at ``cite.section``.

    Without a text the citation stays free text, as it always was (its interpretation in
    each language still)."""
    if text is None:
        return [dataclasses.replace(rule, cites=citation_views(rule.cite, (), None))
                for rule in rules]
    where_of = {raw.get("id"): i for i, raw in enumerate(raw_rules) if isinstance(raw, dict)}
    out = []
    for rule in rules:
        i = where_of.get(rule.id)
        numbers, why = resolve_citation(text, rule.cite.get("section", ""))
        key = "section"
        if why is None and rule.cite.get("quote"):
            why, key = find_quote(text, numbers, rule.cite["quote"]), "quote"
        if why is not None and i is not None:
            inherited = rule.path != c.path        # written in the base, cited in this text
            c.add(["rules", i, "cite", key], f"rule {rule.id}: {why}" + (
                f" (in version {version}, which inherits the rule: write it anew there, "
                "citing the section of its text)" if inherited else ""), "unknown_section")
            continue
        out.append(dataclasses.replace(rule, sections=numbers,
                                       cites=citation_views(rule.cite, numbers, text)))
    return out


def _check_reviewed(doc: LineDict, rules: list[Rule], c: _Collector) -> dict[str, str]:
    """``reviewed:`` (an overlay's own): rule id → why it stands although a section it cites
    changed. An id that names no rule is a problem with "did you mean"."""
    reviewed = doc.get("reviewed")
    if not isinstance(reviewed, dict):
        return {}
    if doc.get("extends") is None:
        c.add(["reviewed"], "reviewed: only an overlay (extends: …) has inherited rules to "
              "review; take it out", "reviewed_without_base")
        return {}
    ids = [r.id for r in rules]
    out: dict[str, str] = {}
    for rid, why in reviewed.items():
        if rid not in ids:
            close = difflib.get_close_matches(str(rid), ids, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            c.add(["reviewed", rid], f"reviewed: this version has no rule {rid!r}; {hint}name "
                  "a rule that cites a changed section", "unknown_rule")
            continue
        out[str(rid)] = str(why)
    return out


# -- labels: what people call the names -------------------------------------------------------

def _check_labels(doc: LineDict, params: dict[str, Any],
                  actions: dict[str, tuple[ActionSpec, ex.Scope]],
                  c: _Collector) -> dict[str, Label]:
    """``labels:`` name → :class:`Label`. A label names a fact, derived value or parameter of
    this version, and ``values`` names values its fact may take: anything else is a problem
    with "did you mean". A label an overlay inherits for a name the overlay took away is
    dropped without a word (it was right for the base); languages are the shape stage's."""
    raw = doc.get("labels")
    if not isinstance(raw, dict):
        return {}
    facts: dict[str, list[FactSpec]] = {}
    derived: set[str] = set()
    for spec, _ in actions.values():
        for name, fact in spec.facts.items():
            facts.setdefault(name, []).append(fact)
        derived |= {d.name for d in spec.derived if not d.hidden}
    # a name whose fact or expression was refused is still there: its slip is one problem
    written = {str(n) for n in _mapping(doc.get("parameters"))}
    for raw_action in _mapping(doc.get("actions")).values():
        for part in ("facts", "derive"):
            written |= {str(n) for n in _mapping(_mapping(raw_action).get(part))}
    known = sorted({*params, *facts, *derived, *written})
    out: dict[str, Label] = {}
    for name, entry in raw.items():
        where = ["labels", name]
        mine = _written_here(raw, name, doc, c)
        if name not in known:
            if mine:
                c.add(where, f"labels: {name!r} is no fact, derived value or parameter of this "
                      f"version; {_did_you_mean(name, known)}label a name the version has, or "
                      "take the label away", "unknown_label")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("label"), dict):
            continue                      # the shape stage has said what is wrong
        values = _label_values(name, entry, facts.get(name, []), params, c, where)
        out[str(name)] = Label(
            label={k: str(v) for k, v in entry["label"].items()},
            help=({k: str(v) for k, v in entry["help"].items()}
                  if isinstance(entry.get("help"), dict) else None),
            values=values)
    return out


def _label_values(name: str, entry: dict, specs: list[FactSpec], params: dict[str, Any],
                  c: _Collector, where: list[Any]) -> dict[str, dict[str, str]]:
    """``labels: <fact>: values:`` — a name for each value of an enumerated fact; a value the
    fact cannot take is a problem (an inherited one the overlay took away is dropped)."""
    raw = entry.get("values")
    if not isinstance(raw, dict):
        return {}
    allowed = [str(json_form(v)) for s in specs for v in (s.one_of or ())]
    vwhere = [*where, "values"]
    if not allowed:
        c.add(vwhere, f"labels: {name}.values names values, but {name} is no fact with "
              "one_of; take values away, or give the fact its values (one_of)", "unknown_label")
        return {}
    tables = {s.one_of_from for s in specs if s.one_of_from}
    for table in sorted(tables):
        rows = params.get(table)
        first = next(iter(rows.values()), None) if isinstance(rows, dict) else None
        if isinstance(first, dict) and all(lang in first for lang in LANGUAGES):
            c.add(vwhere, f"labels: {name}.values: the values of {name} are the rows of table "
                  f"{table}, whose fi, sv and en columns name them already; a value set is "
                  f"written once — take values away, or change the names in {table}",
                  "duplicate_label")
            return {}
    out: dict[str, dict[str, str]] = {}
    for value, texts in raw.items():
        key = str(json_form(value))
        if key not in allowed:
            if _written_here(raw, value, c.doc, c):
                c.add([*vwhere, value], f"labels: {name}.values: {key!r} is not a value "
                      f"{name} can take ({_values(dict.fromkeys(allowed))}); "
                      f"{_did_you_mean(key, allowed)}name one of its values", "unknown_label")
            continue
        if isinstance(texts, dict):
            out[key] = {k: str(v) for k, v in texts.items()}
    return out


# -- checks: yes/no statements about the parameters, true in every valid version -----------

def _check_columns(check: dict, table: str, columns: dict[str, str], c: _Collector,
                   where: list[Any]) -> bool:
    """A for_each check reads the row's columns by name: note what it reads, and defer a
    name that is no column (a misspelt column is one problem, wherever it is read)."""
    try:
        names = ex.names_in(ex.parse(check["that"]))
    except ex.ExprError:
        return False                      # _parse_checked reports it
    cols = sorted(n for n in columns if n != "row")
    missing = False
    for name in names:
        if name in columns:
            c.seen.add((table, name))
        elif name not in c.seen_params and difflib.get_close_matches(name, cols, n=1):
            c.defer(ex.MissingColumn("", table, name, cols), [*where, "that"],
                    f"check {check.get('id')}")
            missing = True
    return missing


def _run_checks(raw: Any, params: dict[str, Any], c: _Collector) -> None:
    """Evaluate each check at load; a false one is a problem in the policy's own words."""
    if not isinstance(raw, list):
        return
    ids: dict[str, int] = {}
    for i, check in enumerate(raw):
        cid = check.get("id") if isinstance(check, dict) else None
        if isinstance(cid, str) and cid in ids:
            c.add(["checks", i, "id"], f"check id {cid} is used twice (first at line "
                  f"{ids[cid]}); ids must be unique", "duplicate_check")
            continue
        if isinstance(cid, str):
            ids[cid] = line_at(c.doc, ["checks", i, "id"])
        if not isinstance(check, dict) or not isinstance(check.get("that"), str) \
                or not isinstance(check.get("message"), dict):
            continue                      # the shape stage has said what is missing
        where = ["checks", i]
        table_name = check.get("for_each")
        rows: list[tuple[Any, dict[str, Any], list[Any]]] = [(None, {}, [*where, "that"])]
        extra: dict[str, str] = {}
        if table_name is not None:
            table = params.get(table_name)
            if not isinstance(table, dict) or not all(isinstance(r, dict)
                                                      for r in table.values()):
                close = difflib.get_close_matches(str(table_name), sorted(params), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                c.add([*where, "for_each"], f"check {check.get('id')}: for_each names no "
                      f"table of parameters{hint}", "bad_check")
                continue
            rows = [(key, dict(cells), ["parameters", table_name, key])
                    for key, cells in table.items()]
            first = next(iter(table.values()), {})
            extra = {"row": "string", **{k: ex.type_of_value(v) for k, v in first.items()}}
        scope = ex.Scope(
            types={**{p: ex.type_of_value(v) for p, v in params.items()}, **extra},
            params=params, where={n: "parameter" for n in (*params, *extra)}, seen=c.seen)
        if table_name is not None and _check_columns(check, table_name, extra, c, where):
            continue
        parsed = _parse_checked(check["that"], scope, c, [*where, "that"],
                                f"check {check.get('id')}", "boolean")
        if not parsed:
            continue
        for key, cells, at in rows:
            values = {**params, **cells, "row": key}
            if any(getattr(v, "reported", False) for v in values.values()):
                continue                  # a value already refused: nothing more to say
            try:
                ok = ex.evaluate(parsed[0], values)
            except Exception as exc:      # a value the expression cannot take
                c.add(at, f"check {check.get('id')}: cannot be evaluated ({exc})",
                      "bad_check")
                continue
            if ok is not True:
                words = " / ".join(render(str(check["message"].get(lang, "")), values, lang)
                                   for lang in LANGUAGES)
                c.add(at, f"check {check.get('id')} fails"
                      + (f" for {key}" if key is not None else "") + f": {words}",
                      "check_failed")


# -- names nothing reads, values no request can send ---------------------------------------

def _check_reads(doc: LineDict, params: dict[str, Any],
                 actions: dict[str, tuple[ActionSpec, ex.Scope]], c: _Collector) -> None:
    """A parameter, table column or derived value that nothing reads is a slip: most often
    a misspelt name in an overlay, which adds a new name and leaves the one meant as it was."""
    if not isinstance(doc.get("rules"), list):
        return                            # "rules: missing" says it all
    usage = usage_of(doc)
    read = set(usage.parameters) | c.meant
    section = doc.get("parameters")
    for name in params:
        if name not in read and _written_here(section, name, doc, c):
            c.add(["parameters", name], _unread_parameter(name, doc, params, read),
                  "unread_parameter")
    for table, rows in params.items():
        if table not in read or not isinstance(rows, dict) or not rows \
                or not all(isinstance(r, dict) for r in rows.values()) \
                or len({tuple(sorted(r)) for r in rows.values()}) > 1 \
                or not _written_here(section, table, doc, c):
            continue                      # a table of values, or one refused for its shape
        for column in next(iter(rows.values())):
            if usage.column_read(table, column) or (table, column) in c.meant:
                continue
            row = next(k for k, r in rows.items() if column in r)
            c.add(["parameters", table, row, column],
                  f"table {table}: column {column!r} is read by nothing — no lookup({table}, "
                  f'…, "{column}") and no check reads it; read it, or take it away from '
                  "every row", "unread_column")
    for action, (spec, _) in actions.items():
        reads = usage.by_action.get(action, frozenset())
        derive = _mapping(_mapping(doc.get("actions")).get(action)).get("derive")
        for derived in spec.derived:
            if derived.name not in reads and _written_here(derive, derived.name, doc, c):
                c.add(["actions", action, "derive", derived.name],
                      f"derived value {derived.name} of action {action} is read by nothing — "
                      "no rule, message or other derived value of the action uses it; use "
                      "it, or take it away", "unread_derived")


def _written_here(section: Any, key: str, doc: LineDict, c: _Collector) -> bool:
    """Whether this file wrote ``key``: an overlay answers for the names it writes; a name
    its base wrote and the overlay left unread is shown by ``check``, not refused."""
    if not doc.get("extends"):
        return True
    return isinstance(section, LineDict) and (section.source_of(key) or c.path) == c.path


def _unread_parameter(name: str, doc: LineDict, params: dict[str, Any], read: set[Any]) -> str:
    head = (f"parameter {name!r} is read by nothing — no rule, derived value, check, "
            "one_of or message names it")
    known = [p for p in params if p != name and p in read]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
    section = doc.get("parameters")
    mine = section.source_of(name) if isinstance(section, LineDict) else None
    if close and isinstance(section, LineDict) and section.source_of(close[0]) != mine \
            and doc.get("extends"):
        return (f"{head}; did you mean {close[0]!r}? To change a parameter of the version "
                "this one extends, write its name exactly as that version has it")
    if close:
        return f"{head}; did you mean {close[0]!r}? Use it, or take it away"
    return f"{head}; use it in a rule, or take it away"


def _check_sendable(actions: dict[str, tuple[ActionSpec, ex.Scope]], rules: list[Rule],
                    params: dict[str, Any], c: _Collector) -> None:
    """A text compared with a fact that has ``one_of`` must be one of its values: a rule
    waiting for a value no request can send never fires. A list parameter compared with
    such a fact (``area in safety_areas``) is checked item by item, at the item."""
    reported: set[Any] = set()
    for name, (spec, _) in actions.items():
        for derived in spec.derived:
            _sendable(derived.expr, spec, ["actions", name, "derive", derived.name],
                      f"derive {derived.name}", params, c, reported)
    for i, rule in enumerate(rules):
        index = next((j for j, raw in enumerate(c.doc.get("rules") or [])
                      if isinstance(raw, dict) and raw.get("id") == rule.id), i)
        parts = [("when", rule.when), ("due", rule.due),
                 *((f"set {k}", t) for k, t in rule.sets.items())]
        for label, tree in parts:
            if tree is None:
                continue
            key = label.split(" ")
            where = ["rules", index, *(["set", key[1]] if len(key) == 2 else key)]
            for action in rule.actions:
                if action in actions:
                    _sendable(tree, actions[action][0], where, f"rule {rule.id}: {label}",
                              params, c, reported)


def _sendable(tree: Any, spec: ActionSpec, where: list[Any], what: str,
              params: dict[str, Any], c: _Collector, reported: set[Any]) -> None:
    for fact, value, param in _compared(tree):
        f = spec.facts.get(fact)
        if f is None or f.one_of is None or f.type in ("boolean", "date"):
            continue
        source = f"one_of: {f.one_of_from}" if f.one_of_from else "its one_of"
        # an overlay that narrowed the values hears it at its own line, not the base's
        narrowed: list[Any] = [["actions", spec.name, "facts", fact, "one_of"]]
        if f.one_of_from:
            narrowed.append(["parameters", f.one_of_from])
            removed_from = getattr(c.doc, "remove_lines", {}).get(f"parameters.{f.one_of_from}")
            if removed_from:
                narrowed.append(removed_from)
        if param is None:
            if value in f.one_of or (what, fact, value) in reported:
                continue
            reported.add((what, fact, value))
            c.add_at(_here(c, [where, *narrowed]), f"{what}: {value!r} is not a value {fact} "
                  f"can take ({source}: {_values(f.one_of)}); no request can send it — "
                  f"{_did_you_mean(value, f.one_of)}add it to the values, or fix the text",
                  "unsendable_value")
            continue
        items = params.get(param)
        for j, item in enumerate(items if isinstance(items, list) else ()):
            if json_form(item) in f.one_of or (param, j) in reported:
                continue
            reported.add((param, j))
            c.add_at(_here(c, [["parameters", param, j], *narrowed]),
                  f"parameter {param}: {item!r} is not a value "
                  f"{fact} of action {spec.name} can take ({source}: {_values(f.one_of)}), "
                  f"but {what} compares them; {_did_you_mean(item, f.one_of)}add it to "
                  + (f.one_of_from if f.one_of_from else "the fact's one_of")
                  + f", or take it out of {param}", "unsendable_value")


def _here(c: _Collector, candidates: list[Any]) -> tuple[str, int]:
    """The first of the places (paths in the document, or file and line) that this file
    wrote, else the first: a problem an overlay causes in what its base wrote is told at the
    overlay's line."""
    places = [p if isinstance(p, tuple) else locate(c.doc, p, c.path) for p in candidates]
    return next((p for p in places if p[0] == c.path), places[0])


def _compared(tree: Any) -> Any:
    """(fact, literal, None) and (fact, None, list parameter) pairs a tree compares."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ex.Cmp):
            if node.op in ("==", "!="):
                for a, b in ((node.left, node.right), (node.right, node.left)):
                    if isinstance(a, ex.Name) and isinstance(b, ex.Lit) and b.type != "boolean":
                        yield a.name, b.value, None
            stack += [node.left, node.right]
        elif isinstance(node, ex.InList):
            if isinstance(node.left, ex.Name):
                if isinstance(node.items, ex.ListLit):
                    for item in node.items.items:
                        if isinstance(item, ex.Lit):
                            yield node.left.name, item.value, None
                elif isinstance(node.items, ex.Name):
                    yield node.left.name, None, node.items.name
            stack += [node.left, node.items]
        elif isinstance(node, ex.Call):
            args = node.args
            if node.fn == "contains" and len(args) == 2 and isinstance(args[1], ex.Name) \
                    and isinstance(args[0], ex.Name):
                yield args[1].name, None, args[0].name
            if node.fn in ("contains", "count") and len(args) == 2 \
                    and isinstance(args[0], ex.Name) and isinstance(args[1], ex.Lit):
                yield args[0].name, args[1].value, None
            stack += list(args)
        elif isinstance(node, (ex.BoolOp, ex.ListLit)):
            stack += list(node.items)
        elif isinstance(node, ex.Arith):
            stack += [node.left, node.right]
        elif isinstance(node, (ex.Neg, ex.Not, ex.Is)):
            stack.append(node.operand)
