"""The small expression language of policy files: parse, type-check, normalise, evaluate.

Planners write ``hours_total < rehab_day_min_hours`` or ``add_months(decision_date, 6)``.
This module turns such text into a tree, checks every name and type against what the action
declares, and evaluates trees in Python. Nothing is ever passed to ``eval``.

One semantic rule matters everywhere: **a comparison with a missing value is false**, with
every operator (``!=`` too), because that is how durable_rules treats a missing field. Boolean
trees are put in negation normal form (``not`` pushed down to the comparisons) before they are
evaluated or compiled, so Python and durable_rules agree on ``not (x < 5)`` when ``x`` is
missing: both read it as ``x >= 5``, which is false.

>>> tree = parse("add_days(start, 14) <= as_of and not late")
>>> type(tree).__name__
'BoolOp'
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.functions import FUNCTIONS, NUMERIC, Function
from engine.invisible import is_blank

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Arith",
    "BoolOp",
    "Call",
    "Cmp",
    "ExprError",
    "InList",
    "Is",
    "ListLit",
    "Lit",
    "MissingColumn",
    "Name",
    "Neg",
    "Not",
    "Scope",
    "Table",
    "UnknownName",
    "check",
    "compile_expr",
    "evaluate",
    "names_in",
    "negation_normal_form",
    "parse",
    "type_of_value",
]


class ExprError(Exception):
    """An expression is malformed or ill-typed; the message says how to fix it."""


class UnknownName(ExprError):
    """A name that is no fact, derived value or parameter; ``close`` is the likely one."""

    def __init__(self, message: str, name: str, close: str | None):
        super().__init__(message)
        self.name, self.close = name, close


class MissingColumn(ExprError):
    """``lookup(table, key, "column")`` names a column the table does not have."""

    def __init__(self, message: str, table: str, column: str, columns: list[str]):
        super().__init__(message)
        self.table, self.column, self.columns = table, column, columns


# -- tree --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lit:
    value: Any
    type: str


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Arith:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Neg:
    operand: Any


@dataclass(frozen=True)
class Cmp:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class InList:
    left: Any
    items: Any          # ListLit or a Name of a list
    negate: bool


@dataclass(frozen=True)
class Is:
    operand: Any
    missing: bool


@dataclass(frozen=True)
class BoolOp:
    op: str             # "and" | "or"
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    operand: Any


@dataclass(frozen=True)
class ListLit:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Table:
    """A parameter table as expressions see it: its name (for error messages) and its rows."""

    name: str
    rows: dict


# -- tokens ------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\d-]))
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|==|!=|<|>|\+|-|\*|/|\(|\)|\[|\]|,)
""", re.VERBOSE)

_KEYWORDS = {"and", "or", "not", "in", "is", "missing", "present", "true", "false"}
_CMP_OPS = {"<", "<=", ">", ">=", "==", "!="}


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            hint = " (text goes in double quotes)" if text[pos] == "'" else ""
            if text[pos] == "=":
                hint = " (write == to compare)"
            raise ExprError(f"unexpected {text[pos]!r} at position {pos + 1}{hint}")
        kind = m.lastgroup
        if kind != "ws":
            value = m.group()
            if kind == "name" and value in _KEYWORDS:
                kind = "kw"
            tokens.append((kind, value))
        pos = m.end()
    tokens.append(("end", ""))
    return tokens


MAX_DEPTH = 40          # nesting of parentheses, lists, calls, not and minus
MAX_LENGTH = 4000       # characters in one expression


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def nested(self, parse: Any) -> Any:
        """Parse one level deeper; refuse past MAX_DEPTH before Python's own stack runs out."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"nested more than {MAX_DEPTH} levels deep; split it into "
                            "smaller steps with derive")
        try:
            return parse()
        finally:
            self.depth -= 1

    def peek(self, offset: int = 0) -> tuple[str, str]:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise ExprError(f"expected {value!r} but found {tok[1] or 'the end'!r}")
        self.i += 1
        return tok

    def at(self, *values: str) -> bool:
        return self.peek()[1] in values and self.peek()[0] in ("kw", "op")

    def parse(self) -> Any:
        node = self.or_()
        if self.peek()[0] != "end":
            raise ExprError(f"unexpected {self.peek()[1]!r}; join conditions with and / or")
        return node

    def or_(self) -> Any:
        items = [self.and_()]
        while self.at("or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_(self) -> Any:
        items = [self.not_()]
        while self.at("and"):
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_(self) -> Any:
        if self.at("not"):
            self.take()
            return Not(self.nested(self.not_))
        return self.comparison()

    def comparison(self) -> Any:
        left = self.sum_()
        if self.at(*_CMP_OPS):
            op = self.take()[1]
            return Cmp(op, left, self.sum_())
        if self.at("in"):
            self.take()
            return InList(left, self.sum_(), negate=False)
        if self.at("not") and self.peek(1)[1] == "in":
            self.take()
            self.take()
            return InList(left, self.sum_(), negate=True)
        if self.at("is"):
            self.take()
            word = self.take()[1]
            if word not in ("missing", "present"):
                raise ExprError(f"write 'is missing' or 'is present', not 'is {word}'")
            return Is(left, missing=(word == "missing"))
        return left

    def sum_(self) -> Any:
        node = self.term()
        while self.at("+", "-"):
            op = self.take()[1]
            node = Arith(op, node, self.term())
        return node

    def term(self) -> Any:
        node = self.unary()
        while self.at("*", "/"):
            op = self.take()[1]
            node = Arith(op, node, self.unary())
        return node

    def unary(self) -> Any:
        if self.at("-"):
            self.take()
            return Neg(self.nested(self.unary))
        return self.atom()

    def atom(self) -> Any:
        kind, value = self.take()
        if kind == "number":
            return Lit(float(value), "number") if "." in value else Lit(int(value), "integer")
        if kind == "string":
            return Lit(re.sub(r"\\(.)", r"\1", value[1:-1]), "string")
        if kind == "date":
            try:
                return Lit(dt.date.fromisoformat(value), "date")
            except ValueError:
                raise ExprError(f"{value} is not a date") from None
        if kind == "kw" and value in ("true", "false"):
            return Lit(value == "true", "boolean")
        if kind == "name":
            if self.at("("):
                return self.call(value)
            return Name(value)
        if value == "(":
            node = self.nested(self.or_)
            self.take(")")
            return node
        if value == "[":
            items = []
            while not self.at("]"):
                items.append(self.nested(self.sum_))
                if not self.at("]"):
                    self.take(",")
            self.take("]")
            return ListLit(tuple(items))
        raise ExprError(f"unexpected {value or 'end of expression'!r}")

    def call(self, fn: str) -> Call:
        self.take("(")
        args = []
        while not self.at(")"):
            args.append(self.nested(self.or_))
            if not self.at(")"):
                self.take(",")
        self.take(")")
        return Call(fn, tuple(args))


def parse(text: str) -> Any:
    """Parse expression text into a tree; raise :class:`ExprError` with a readable reason."""
    if not isinstance(text, str) or is_blank(text):
        raise ExprError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExprError(f"longer than {MAX_LENGTH} characters; split it into smaller steps "
                        "with derive")
    tree = _Parser(text).parse()
    if _depth(tree) > 2 * MAX_DEPTH:
        raise ExprError(f"nested more than {2 * MAX_DEPTH} operations deep (a long chain of "
                        "+ or *); split it into smaller steps with derive")
    return tree


def _depth(tree: Any) -> int:
    """How deep a parsed tree goes, counted without recursion (a + a + … nests leftwards)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for value in vars(node).values() if hasattr(node, "__dict__") else ():
            for child in value if isinstance(value, tuple) else (value,):
                if hasattr(child, "__dataclass_fields__"):
                    stack.append((child, depth + 1))
    return deepest


# -- types -------------------------------------------------------------------------------

def type_of_value(value: Any) -> str:
    """The expression type of a parameter value read from YAML."""
    if getattr(value, "reported", False):      # refused already: any use of it is quiet
        return "any"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, list):
        kinds = {type_of_value(v) for v in value}
        if kinds <= {"integer", "number"} and kinds:
            kinds = {"number"} if "number" in kinds else {"integer"}
        return "list:" + (kinds.pop() if len(kinds) == 1 else "any")
    if isinstance(value, dict):
        return "table"
    return "any"


@dataclass
class Scope:
    """What names mean inside one action: fact and derived types, parameter values."""

    types: dict[str, str]
    params: dict[str, Any]
    where: dict[str, str]        # name → "fact" | "derived" | "parameter"
    # names (and (table, column) pairs) that checked expressions read, shared by the scopes
    # of one file, so that a misspelling can be told from a name nobody reads
    seen: set[Any] | None = None

    def type_of(self, name: str) -> str:
        if name not in self.types:
            raise _unknown_name(name, self)
        if self.seen is not None:
            self.seen.add(name)
        return self.types[name]


def _unknown_name(name: str, scope: Scope) -> UnknownName:
    import difflib

    close = difflib.get_close_matches(name, list(scope.types), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    if not close and name.isidentifier():
        hint = f'; for the text itself write "{name}" in double quotes'
    return UnknownName(f"unknown name {name!r}: not a fact, derived value or parameter of "
                       f"this action{hint}", name, close[0] if close else None)


def _cmp_types(op: str, a: str, b: str) -> None:
    if "any" in (a, b):
        return
    if a in NUMERIC and b in NUMERIC:
        return
    if {a, b} <= {"string", "hetu"}:
        a = b = "string"
    if a != b:
        raise ExprError(f"cannot compare {a} with {b}")
    if a.startswith("list") or a == "table":
        raise ExprError(f"cannot compare a {a}; use length(), contains() or all_in()")
    if op not in ("==", "!=") and a == "boolean":
        raise ExprError(f"yes/no values only compare with == or !=, not {op}")
    if op not in ("==", "!=") and a == "string":
        # durable_rules orders the JSON-escaped text ('\\n' after '2'), not the text itself
        raise ExprError(f"text only compares with ==, != or in [..], not {op}; "
                        "compare dates or numbers instead")


def check(node: Any, scope: Scope) -> str:
    """Type-check ``node``; return its type or raise :class:`ExprError`."""
    if isinstance(node, Lit):
        return node.type
    if isinstance(node, Name):
        return scope.type_of(node.name)
    if isinstance(node, ListLit):
        kinds = {check(i, scope) for i in node.items}
        if len(kinds) > 1 and not kinds <= set(NUMERIC):
            raise ExprError(f"a list mixes {', '.join(sorted(kinds))}")
        return "list:" + (kinds.pop() if len(kinds) == 1 else ("number" if kinds else "any"))
    if isinstance(node, Neg):
        t = check(node.operand, scope)
        if t not in (*NUMERIC, "any"):
            raise ExprError(f"cannot negate {t}")
        return t
    if isinstance(node, Arith):
        a, b = check(node.left, scope), check(node.right, scope)
        for t in (a, b):
            if t not in (*NUMERIC, "any"):
                raise ExprError(
                    f"{node.op} works on numbers, not {t}"
                    + ("; use add_days(), add_months() or days_between() for dates"
                       if t == "date" else ""))
        return "integer" if a == b == "integer" and node.op != "/" else "number"
    if isinstance(node, Cmp):
        _cmp_types(node.op, check(node.left, scope), check(node.right, scope))
        return "boolean"
    if isinstance(node, InList):
        left = check(node.left, scope)
        items = check(node.items, scope)
        if not items.startswith("list"):
            raise ExprError(f"'in' needs a list on its right, not {items}")
        _cmp_types("==", left, items.partition(":")[2] or "any")
        return "boolean"
    if isinstance(node, Is):
        check(node.operand, scope)
        return "boolean"
    if isinstance(node, (BoolOp, Not)):
        for item in (node.items if isinstance(node, BoolOp) else (node.operand,)):
            t = check(item, scope)
            if t not in ("boolean", "any"):
                raise ExprError(f"'{getattr(node, 'op', 'not')}' needs yes/no values, not {t}")
        return "boolean"
    if isinstance(node, Call):
        return _check_call(node, scope)
    raise ExprError(f"cannot use {node!r} here")


def _check_call(node: Call, scope: Scope) -> str:
    fn: Function | None = FUNCTIONS.get(node.fn)
    if fn is None:
        import difflib

        close = difflib.get_close_matches(node.fn, list(FUNCTIONS), n=1)
        hint = f"; did you mean {close[0]}()?" if close else ""
        raise ExprError(f"unknown function {node.fn}(){hint} (see policies/README.md)")
    if not fn.min_args <= len(node.args) <= fn.max_args:
        raise ExprError(f"{node.fn}() takes {fn.signature}; got {len(node.args)} argument(s)")
    types = [check(a, scope) for a in node.args]
    if node.fn in ("lookup", "has_key", "lookup_or"):
        return _check_lookup(node, types, scope)
    try:
        return fn.check(types)
    except TypeError as exc:
        raise ExprError(f"{node.fn}(): {exc}") from None


def _check_lookup(node: Call, types: list[str], scope: Scope) -> str:
    first = node.args[0]
    if not (isinstance(first, Name) and types[0] == "table"):
        raise ExprError(f"{node.fn}() needs a table parameter as its first argument")
    rows = scope.params[first.name]
    key_types = {type_of_value(k) for k in rows} or {"any"}
    key_type = key_types.pop() if len(key_types) == 1 else "any"
    try:
        _cmp_types("==", key_type, types[1])
    except ExprError:
        raise ExprError(f"{node.fn}(): the keys of {first.name} are {key_type}, "
                        f"not {types[1]}") from None
    if node.fn == "has_key":
        return "boolean"
    if node.fn == "lookup_or":            # lookup_or(table, key, ["column",] default)
        inner = Call("lookup", node.args[:-1])
        value_type = _check_lookup(inner, types[:-1], scope) if rows else "any"
        default = types[-1]
        if value_type != "any" and not (value_type == default or "any" in (value_type, default)
                                         or {value_type, default} <= set(NUMERIC)):
            raise ExprError(f"lookup_or(): the default is {default} but the table holds "
                            f"{value_type}")
        return default if value_type == "any" else value_type
    values = list(rows.values())
    if len(node.args) == 2:
        if values and isinstance(values[0], dict):
            raise ExprError(f"the rows of {first.name} have columns; write "
                            f'lookup({first.name}, key, "column")')
        return _common_type(values)
    column = node.args[2]
    if not isinstance(column, Lit) or column.type != "string":
        raise ExprError('the column of lookup() is text in double quotes, e.g. "min_size"')
    if not values or not isinstance(values[0], dict):
        raise ExprError(f"the rows of {first.name} have no columns; write "
                        f"lookup({first.name}, key)")
    missing = [k for k, row in rows.items()
               if not isinstance(row, dict) or column.value not in row]
    if missing:
        cols = sorted(values[0])
        raise MissingColumn(f"{first.name} has no column {column.value!r} (columns: "
                            f"{', '.join(cols)})", first.name, column.value, cols)
    if scope.seen is not None:
        scope.seen.add((first.name, column.value))
    return _common_type([row[column.value] for row in values if isinstance(row, dict)])


def _common_type(values: list[Any]) -> str:
    kinds = {type_of_value(v) for v in values}
    if kinds <= set(NUMERIC) and kinds:
        return "number" if "number" in kinds else "integer"
    return kinds.pop() if len(kinds) == 1 else "any"


# -- normal form -------------------------------------------------------------------------

_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


def negation_normal_form(node: Any, negate: bool = False) -> Any:
    """Push ``not`` down to the comparisons; a bare yes/no value becomes ``x == true``."""
    if isinstance(node, Not):
        return negation_normal_form(node.operand, not negate)
    if isinstance(node, BoolOp):
        op = node.op if not negate else ("or" if node.op == "and" else "and")
        return BoolOp(op, tuple(negation_normal_form(i, negate) for i in node.items))
    if isinstance(node, Cmp):
        return Cmp(_NEGATE[node.op], node.left, node.right) if negate else node
    if isinstance(node, InList):
        return InList(node.left, node.items, node.negate != negate)
    if isinstance(node, Is):
        return Is(node.operand, node.missing != negate)
    if isinstance(node, Lit) and node.type == "boolean":
        return Lit(node.value != negate, "boolean")
    return Cmp("==", node, Lit(not negate, "boolean"))


# -- evaluation --------------------------------------------------------------------------

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq, "!=": operator.ne}


def evaluate(node: Any, values: dict[str, Any]) -> Any:
    """Evaluate a checked tree. Missing inputs make values missing and comparisons false.

    Boolean trees must already be in negation normal form.
    """
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Name):
        return values.get(node.name)
    if isinstance(node, ListLit):
        return [evaluate(i, values) for i in node.items]
    if isinstance(node, Neg):
        v = evaluate(node.operand, values)
        return None if v is None else -v
    if isinstance(node, Arith):
        return _arith(node.op, evaluate(node.left, values), evaluate(node.right, values))
    if isinstance(node, Cmp):
        a, b = evaluate(node.left, values), evaluate(node.right, values)
        return a is not None and b is not None and _OPS[node.op](a, b)
    if isinstance(node, InList):
        a, items = evaluate(node.left, values), evaluate(node.items, values)
        if a is None or items is None:
            return False
        present = [i for i in items if i is not None]
        return all(a != i for i in present) if node.negate else any(a == i for i in present)
    if isinstance(node, Is):
        return (evaluate(node.operand, values) is None) == node.missing
    if isinstance(node, BoolOp):
        results = (evaluate(i, values) for i in node.items)
        return all(results) if node.op == "and" else any(results)
    if isinstance(node, Not):
        raise ExprError("evaluate() needs negation normal form")
    if isinstance(node, Call):
        fn = FUNCTIONS[node.fn]
        args = [evaluate(a, values) for a in node.args]
        if not fn.none_safe and any(a is None for a in args):
            return None
        if node.fn in ("lookup", "has_key", "lookup_or"):
            args[0] = (args[0].name, args[0].rows)
        return fn.impl(*args)
    raise ExprError(f"cannot evaluate {node!r}")


def compile_expr(node: Any) -> Callable[[dict[str, Any]], Any]:
    """The tree as a Python closure that computes what :func:`evaluate` computes.

    Built once at load, so a decision walks no tree and tests no node types; nothing of the
    planner's text is ever handed to ``eval``. The differential and fixture tests run both.

    >>> tree = negation_normal_form(parse("a + 1 > b and c is missing"))
    >>> fn = compile_expr(tree)
    >>> fn({"a": 2, "b": 2}), fn({"a": 1, "b": 2}), evaluate(tree, {"a": 2, "b": 2})
    (True, False, True)
    """
    if isinstance(node, Lit):
        value = node.value
        return lambda v: value
    if isinstance(node, Name):           # v.get(name), called from C: no Python frame
        return operator.methodcaller("get", node.name)
    if isinstance(node, ListLit):
        items = [compile_expr(i) for i in node.items]
        return lambda v: [f(v) for f in items]
    if isinstance(node, Neg):
        operand = compile_expr(node.operand)

        def neg(v: dict[str, Any]) -> Any:
            x = operand(v)
            return None if x is None else -x
        return neg
    if isinstance(node, Arith):
        left, right, op = compile_expr(node.left), compile_expr(node.right), node.op
        return lambda v: _arith(op, left(v), right(v))
    if isinstance(node, Cmp):
        left, right, cmp = compile_expr(node.left), compile_expr(node.right), _OPS[node.op]
        if isinstance(node.right, Lit) and node.right.value is not None:
            return _compare_constant(node, left, cmp)

        def compare(v: dict[str, Any]) -> bool:
            a = left(v)
            if a is None:
                return False
            b = right(v)
            return b is not None and cmp(a, b)
        return compare
    if isinstance(node, InList):
        left, items, negate = compile_expr(node.left), compile_expr(node.items), node.negate

        def in_list(v: dict[str, Any]) -> bool:
            a, values = left(v), items(v)
            if a is None or values is None:
                return False
            present = [i for i in values if i is not None]
            return all(a != i for i in present) if negate else any(a == i for i in present)
        return in_list
    if isinstance(node, Is):
        operand, missing = compile_expr(node.operand), node.missing
        return lambda v: (operand(v) is None) == missing
    if isinstance(node, BoolOp):
        parts = tuple(compile_expr(i) for i in node.items)
        if len(parts) == 2:              # the usual case, without a generator per call
            first, second = parts
            if node.op == "and":
                return lambda v: True if first(v) and second(v) else False
            return lambda v: True if first(v) or second(v) else False
        if node.op == "and":
            return lambda v: all(f(v) for f in parts)
        return lambda v: any(f(v) for f in parts)
    if isinstance(node, Not):
        raise ExprError("compile_expr() needs negation normal form")
    if isinstance(node, Call):
        fn = FUNCTIONS[node.fn]
        args = tuple(compile_expr(a) for a in node.args)
        impl, none_safe = fn.impl, fn.none_safe
        if node.fn in ("lookup", "has_key", "lookup_or"):
            probe = _table_probe(node, args[1], impl)
            if probe is not None:
                return probe

            def lookup(v: dict[str, Any]) -> Any:
                values = [f(v) for f in args]
                if not none_safe and any(a is None for a in values):
                    return None
                values[0] = (values[0].name, values[0].rows)
                return impl(*values)
            return lookup

        def call(v: dict[str, Any]) -> Any:
            values = [f(v) for f in args]
            if not none_safe and any(a is None for a in values):
                return None
            return impl(*values)
        return call
    raise ExprError(f"cannot compile {node!r}")


def _compare_constant(node: Cmp, left: Callable[[dict[str, Any]], Any],
                      cmp: Callable[[Any, Any], bool]) -> Callable[[dict[str, Any]], bool]:
    """``x < 5``, ``kind == "a"``: a comparison with a literal, the commonest there is."""
    const = node.right.value
    probe = node.left
    if (isinstance(probe, Call) and probe.fn == "has_key" and node.op in ("==", "!=")
            and type(const) is bool and all(isinstance(a, Name) for a in probe.args)):
        # ``has_key(t, k)`` as a yes/no value is ``has_key(t, k) == true``: one closure
        table, key, wanted = probe.args[0].name, probe.args[1].name, const == (node.op == "==")

        def has_key_is(v: dict[str, Any]) -> bool:
            t, k = v.get(table), v.get(key)
            return t is not None and k is not None and (k in t.rows) == wanted
        return has_key_is
    if isinstance(node.left, Name):
        name = node.left.name

        def name_vs_constant(v: dict[str, Any]) -> bool:
            a = v.get(name)
            return a is not None and cmp(a, const)
        return name_vs_constant

    def vs_constant(v: dict[str, Any]) -> bool:
        a = left(v)
        return a is not None and cmp(a, const)
    return vs_constant


_ABSENT = object()           # a table row that is not there (any value may be a row)


def _table_probe(node: Call, key: Callable[[dict[str, Any]], Any],
                 impl: Callable[..., Any]) -> Callable[[dict[str, Any]], Any] | None:
    """``lookup``, ``lookup_or`` or ``has_key`` on a named table with a literal column and
    default, as one dictionary probe; what :func:`evaluate` does with them, step by step.

    None when the call has another shape (the general closure serves it).
    """
    if not isinstance(node.args[0], Name) or not all(isinstance(a, Lit) for a in node.args[2:]):
        return None
    table = node.args[0].name
    rest = [a.value for a in node.args[2:]]
    if node.fn == "has_key":
        def has_key(v: dict[str, Any]) -> Any:
            t, k = v.get(table), key(v)
            if t is None or k is None:
                return None
            return k in t.rows
        return has_key
    if node.fn == "lookup_or":
        *column, default = rest
        if column:
            col = column[0]
            if isinstance(node.args[1], Name):     # the key a value: read in line
                name = node.args[1].name

                def lookup_or_named(v: dict[str, Any]) -> Any:
                    row = v.get(table).rows.get(v.get(name), _ABSENT)
                    return default if row is _ABSENT else row[col]
                return lookup_or_named

            def lookup_or_column(v: dict[str, Any]) -> Any:
                row = v.get(table).rows.get(key(v), _ABSENT)
                return default if row is _ABSENT else row[col]
            return lookup_or_column

        def lookup_or(v: dict[str, Any]) -> Any:
            row = v.get(table).rows.get(key(v), _ABSENT)
            return default if row is _ABSENT else row
        return lookup_or
    column = rest

    def lookup(v: dict[str, Any]) -> Any:
        t, k = v.get(table), key(v)
        if t is None or k is None:
            return None
        rows = t.rows
        if k not in rows:
            return impl((t.name, rows), k, *column)     # raises the LookupMiss that names it
        row = rows[k]
        return row[column[0]] if column else row
    return lookup


def _arith(op: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return None if b == 0 else a / b


def names_in(node: Any) -> list[str]:
    """Every name a tree reads, in order of first appearance."""
    out: list[str] = []

    def walk(n: Any) -> None:
        if isinstance(n, Name):
            if n.name not in out:
                out.append(n.name)
        elif isinstance(n, (Call, BoolOp, ListLit)):
            for child in (n.args if isinstance(n, Call) else n.items):
                walk(child)
        elif isinstance(n, (Arith, Cmp)):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, InList):
            walk(n.left)
            walk(n.items)
        elif isinstance(n, (Neg, Not, Is)):
            walk(n.operand)

    walk(node)
    return out
