"""Rule conditions → durable_rules condition JSON, one plan per (policy, version, action).

The output is plain JSON in durable_rules' dialect (``{'$lt': {'hours_total': 6}}``); this
module never imports durable, so the pure-Python evaluator in :mod:`engine.pyeval` can run
exactly the same conditions and the two can be tested against each other.

What the stages do:

* **hoist** — durable_rules compares a field with a constant or with another field of the same
  fact, nothing more. Every computed operand (``add_months(d, 6)``, ``a + b``, a membership in a
  list fact) becomes a hidden derived value ``_h1 …`` computed in Python before evaluation.
  Parameters are constants and are folded into the condition.
* **emit** — comparisons, ``in`` lists (as ``$or`` of ``$eq``), ``is missing`` (``$nex``),
  ``and``/``or``. A rule without ``when`` fires on every request of its action. A comparison
  of two fields first tests that the right-hand one is present (durable_rules otherwise may
  read a stale value for it).
* **limits** — durable_rules hangs or crashes past limits it does not check itself
  (durable-rules.md §6). A plan that could cross one is refused here, at the line of the
  action or rule, before it ever reaches the engine.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

from engine import expressions as ex
from engine.conditions import compile_condition
from engine.errors import Problem
from engine.facts import compile_checker
from engine.model import ActionPlan, CompiledRule, Derived, PolicyVersion, json_value

__all__ = [
    "ALWAYS",
    "INDEX_MIN",
    "LIMITS",
    "activations",
    "compile_version",
    "simultaneous_bound",
]

ALWAYS = {"$ex": {"as_of": 1}}       # as_of is in every message
_NEVER = {"$nex": {"as_of": 1}}

# Measured limits (durable-rules.md §6) and the margins kept below them.
LIMITS = {
    "rules_per_action": 400,         # 4096 hard; cost grows linearly, shard advice ≤ 400
    "fields_per_fact": 240,          # ~253 properties → error 302
    "distinct_conditions": 500,      # > 512 under one node → create_ruleset hangs forever
    "missing_tests": 100,            # > 128 distinct $nex → error 107
    "simultaneous_matches": 60,      # > 64 activations for one fact → 303 or a segfault
}

_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "==": "$eq", "!=": "$neq"}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _fields_of(condition: Any, out: set[str]) -> None:
    """Every message field a condition reads (both sides of a field-to-field comparison)."""
    for op, arg in condition.items():
        if op in ("$and", "$or"):
            for part in arg:
                _fields_of(part, out)
            continue
        for field_name, rvalue in arg.items():
            out.add(field_name)
            if isinstance(rvalue, dict) and "$m" in rvalue:
                out.add(rvalue["$m"])


class _Hoister:
    """Compiles one rule's condition inside one action, hoisting computed operands."""

    def __init__(self, scope_types: dict[str, str], where: dict[str, str],
                 params: dict[str, Any], hoisted: dict[str, Derived]):
        self.types, self.where, self.params, self.hoisted = scope_types, where, params, hoisted

    def const(self, node: Any) -> tuple[bool, Any]:
        if isinstance(node, ex.Lit):
            return True, node.value
        if isinstance(node, ex.Name) and self.where.get(node.name) == "parameter":
            return True, self.params[node.name]
        if isinstance(node, ex.Neg):
            ok, v = self.const(node.operand)
            return ok, (-v if ok else None)
        return False, None

    def field(self, node: Any) -> str:
        if isinstance(node, ex.Name) and self.where.get(node.name) in ("fact", "derived"):
            return node.name
        key = repr(node)
        for d in self.hoisted.values():
            if repr(d.expr) == key:
                return d.name
        name = f"_h{len(self.hoisted) + 1}"
        types = ex.Scope(self.types, self.params, self.where)
        self.hoisted[name] = Derived(name, _source(node), node, ex.check(node, types),
                                     tuple(ex.names_in(node)), hidden=True)
        self.types[name] = self.hoisted[name].type
        self.where[name] = "derived"
        return name

    def compile(self, node: Any) -> dict[str, Any]:
        if node is None:
            return ALWAYS
        if isinstance(node, ex.BoolOp):
            parts = [self.compile(i) for i in node.items]
            return {"$and" if node.op == "and" else "$or": parts}
        if isinstance(node, ex.Lit):
            return ALWAYS if node.value else _NEVER
        if isinstance(node, ex.Is):
            return {"$nex" if node.missing else "$ex": {self.field(node.operand): 1}}
        if isinstance(node, ex.InList):
            return self.membership(node)
        if isinstance(node, ex.Cmp):
            return self.comparison(node)
        raise ex.ExprError(f"cannot compile {node!r}")

    def membership(self, node: ex.InList) -> dict[str, Any]:
        ok, values = self.const(node.items)
        if not ok and isinstance(node.items, ex.ListLit):
            consts = [self.const(i) for i in node.items.items]
            ok, values = all(c[0] for c in consts), [c[1] for c in consts]
        if not ok:   # membership in a list fact or computed list: hoist contains()
            name = self.field(ex.Call("contains", (node.items, node.left)))
            return {"$eq": {name: not node.negate}}
        left_ok, left = self.const(node.left)
        if left_ok:
            hit = left in values
            return ALWAYS if hit != node.negate else _NEVER
        f = self.field(node.left)
        if not values:
            return _NEVER if not node.negate else {"$ex": {f: 1}}
        op = "$neq" if node.negate else "$eq"
        for v in values:
            _check_constant(v)
        parts = [{op: {f: json_value(v)}} for v in values]
        return parts[0] if len(parts) == 1 else {"$and" if node.negate else "$or": parts}

    def comparison(self, node: ex.Cmp) -> dict[str, Any]:
        op, left, right = node.op, node.left, node.right
        lconst, lval = self.const(left)
        rconst, rval = self.const(right)
        if lconst and rconst:
            return ALWAYS if ex.evaluate(ex.Cmp(op, ex.Lit(lval, "any"),
                                                ex.Lit(rval, "any")), {}) else _NEVER
        if lconst:
            op, left, right, rconst, rval = _FLIP[op], right, left, True, lval
        f = self.field(left)
        if rconst:
            _check_constant(rval)
            return {_OPS[op]: {f: json_value(rval)}}
        # Measured: when the referenced field is missing, durable_rules may compare with a
        # stale value left by another rule's comparison and match (found by the differential
        # test). Testing its presence first makes the comparison false, as it must be.
        other = self.field(right)
        return {"$and": [{"$ex": {other: 1}}, {_OPS[op]: {f: {"$m": other}}}]}


def _check_constant(value: Any) -> None:
    """durable_rules writes rule constants with json.dumps and cannot read exponents back."""
    if isinstance(value, float) and "e" in repr(value):
        raise ex.ExprError(f"the number {value!r} is too large or too small for the rule "
                           "engine; use a value between 0.0001 and 10^15")


def _source(node: Any) -> str:
    """A readable rendering of a hoisted expression, for traces."""
    if isinstance(node, ex.Name):
        return node.name
    if isinstance(node, ex.Lit):
        return json.dumps(json_value(node.value), ensure_ascii=False)
    if isinstance(node, ex.Call):
        return f"{node.fn}({', '.join(_source(a) for a in node.args)})"
    if isinstance(node, ex.Arith):
        return f"({_source(node.left)} {node.op} {_source(node.right)})"
    if isinstance(node, ex.Neg):
        return f"-{_source(node.operand)}"
    if isinstance(node, ex.ListLit):
        return f"[{', '.join(_source(i) for i in node.items)}]"
    return repr(node)


def _leaves(cond: dict[str, Any], out: list[str]) -> None:
    (op, arg), = cond.items()
    if op in ("$and", "$or"):
        for c in arg:
            _leaves(c, out)
    else:
        out.append(json.dumps(cond, sort_keys=True))


def _discriminators(cond: dict[str, Any]) -> dict[str, Any]:
    """Top-level ``field == constant`` tests: rules that differ on one cannot both fire."""
    parts = cond["$and"] if "$and" in cond else [cond]
    out = {}
    for p in parts:
        if "$eq" in p:
            (f, v), = p["$eq"].items()
            if not isinstance(v, dict):
                out[f] = v
    return out


def activations(cond: dict[str, Any]) -> int:
    """How many times durable_rules can fire a rule with this condition for one fact.

    Measured: every true branch of an ``$or`` is a separate activation (a rule with three true
    branches fires three times), so the count is that of the condition's disjunctive normal
    form. An ``$or`` of equalities on one field (``x in [..]``) holds at most once.
    """
    (op, arg), = cond.items()
    if op == "$and":
        total = 1
        for c in arg:
            total *= activations(c)
        return total
    if op == "$or":
        fields_ = {next(iter(c["$eq"])) for c in arg if "$eq" in c}
        if len(fields_) == 1 and all("$eq" in c for c in arg):
            return 1
        return sum(activations(c) for c in arg)
    return 1


def simultaneous_bound(conditions: list[dict[str, Any]]) -> int:
    """An upper bound of the activations one fact can cause (the sentinel included).

    durable_rules crashes the process (segfault) at 65 activations for one fact
    (``MAX_STACK_SIZE`` 64; measured, durable-rules.md §6). Rules whose top-level
    ``field == constant`` tests differ cannot hold together, so only the largest such group
    counts, plus every rule without that test.
    """
    discs = [_discriminators(c) for c in conditions]
    weights = [activations(c) for c in conditions]
    counts: dict[str, int] = {}
    for d in discs:
        for f in d:
            counts[f] = counts.get(f, 0) + 1
    best = max(counts, key=lambda f: counts[f]) if counts else None
    groups: dict[str, int] = {}
    free = 1                                            # the sentinel rule
    for d, w in zip(discs, weights, strict=True):
        if best is not None and best in d:
            key = json.dumps(d[best])
            groups[key] = groups.get(key, 0) + w
        else:
            free += w
    return free + max(groups.values(), default=0)


def _check_limits(plan: ActionPlan, path: str, line: int) -> list[Problem]:
    problems = []
    name = plan.action.name

    def refuse(what: str, count: int, limit: str, fix: str, at: int = line) -> None:
        problems.append(Problem(
            path, at, f"action {name}: {what} ({count}; at most {LIMITS[limit]}, a limit of "
            f"the rule engine); {fix}", "engine_limit"))

    rules = plan.rules
    if len(rules) > LIMITS["rules_per_action"]:
        refuse("too many rules", len(rules), "rules_per_action",
               "split the action in two", rules[LIMITS["rules_per_action"]].rule.line)
    if len(plan.fields) + 2 > LIMITS["fields_per_fact"]:
        refuse("too many facts and derived values", len(plan.fields) + 2, "fields_per_fact",
               "split the action or move values into a table")
    leaves: list[str] = []
    for r in rules:
        _leaves(r.condition, leaves)
    distinct = set(leaves)
    if len(distinct) > LIMITS["distinct_conditions"]:
        refuse("too many different conditions", len(distinct), "distinct_conditions",
               "move the values into a parameter table and look them up")
    nex = [leaf for leaf in distinct if leaf.startswith('{"$nex"')]
    if len(nex) > LIMITS["missing_tests"]:
        refuse("too many 'is missing' tests", len(nex), "missing_tests",
               "give the facts defaults instead")
    bound = simultaneous_bound([r.condition for r in rules])
    if bound > LIMITS["simultaneous_matches"]:
        refuse("too many rules (counting each 'or' branch) can hold at the same time", bound,
               "simultaneous_matches",
               'give rules a distinguishing test such as kind == "…", or split the action')
    return problems


def compile_version(version: PolicyVersion) -> tuple[dict[str, ActionPlan], list[Problem]]:
    """Compile every action of a loaded version; return the plans and any limit problems."""
    plans: dict[str, ActionPlan] = {}
    problems: list[Problem] = []
    constants = {name: ex.Table(name, value) if isinstance(value, dict) else value
                 for name, value in version.parameters.items()}
    for name, action in version.actions.items():
        types, where = dict(action.types), dict(action.where)   # hoisting adds to them
        hoisted: dict[str, Derived] = {}
        hoister = _Hoister(types, where, version.parameters, hoisted)
        compiled = []
        for rule in version.rules_for(name):
            try:
                condition = hoister.compile(rule.when)
            except ex.ExprError as exc:
                problems.append(Problem(rule.path or version.path, rule.line,
                                        f"rule {rule.id}: when: {exc}", "engine_limit"))
                condition = _NEVER
            reads = tuple(n for n in ex.names_in(rule.when) if where.get(n) != "parameter")
            compiled.append(CompiledRule(
                rule, condition, reads,
                {k: ex.compile_expr(e) for k, e in rule.sets.items()},
                ex.compile_expr(rule.due) if rule.due is not None else None,
                compile_condition(condition)))
        derived = (*action.derived, *hoisted.values())
        plan = _plan(version, action, derived, compiled, constants, types, where)
        problems += _check_limits(plan, version.path, action.line)
        indexed = _indexed(compiled, types, where, constants)
        if indexed is not None:          # limits are judged on the rules as written
            compiled, index, table = indexed
            plan = _plan(version, action, (*derived, index), compiled,
                         {**constants, table.name: table}, types, where)
        plans[name] = plan
    return plans, problems


def _plan(version: PolicyVersion, action: Any, derived: tuple[Derived, ...],
          compiled: list[CompiledRule], constants: dict[str, Any], types: dict[str, str],
          where: dict[str, str]) -> ActionPlan:
    # only the fields some condition reads travel to the rule engine: a message of the
    # action's every fact costs JSON work in Python and parsing in C for nothing
    read: set[str] = set()
    for rule in compiled:
        _fields_of(rule.condition, read)
    fields = {n: t for n, t in types.items()
              if where.get(n) in ("fact", "derived") and n in read
              and not t.startswith("list") and t != "table"}
    return ActionPlan(version.policy, version.version, version.digest, action,
                      derived, fields, tuple(compiled), constants,
                      tuple(ex.compile_expr(d.expr) for d in derived),
                      compile_checker(action))


INDEX_MIN = 24     # distinct values of one field below which durable's linear tests are cheaper


def _indexed(compiled: list[CompiledRule], types: dict[str, str], where: dict[str, str],
             constants: dict[str, Any]
             ) -> tuple[list[CompiledRule], Derived, ex.Table] | None:
    """Rules told apart by ``field == constant`` (``kind == "k17"``), grouped into buckets.

    durable_rules has no value index (durable-rules.md §5): under one node it tests every
    child in turn, so 300 rules of ``kind == "k<i>" and …`` cost 300 tests per fact. Here the
    field's values are numbered into about √n buckets, a hidden value ``_index`` (the bucket
    of the request's value, 0 for none) is computed before evaluation, and each such rule
    tests ``_index == <its bucket>`` first: durable shares that node between the rules of a
    bucket, so a fact meets √n bucket tests and the √n rules of one bucket. A rule still fires
    exactly when it did (its own test stays); the Python evaluator reads the same conditions.
    """
    discs = [_discriminators(r.condition) for r in compiled]
    values: dict[str, dict[Any, None]] = {}
    for d in discs:
        for f, v in d.items():
            if types.get(f) in ("string", "integer") and where.get(f) in ("fact", "derived"):
                values.setdefault(f, {})[v] = None
    if not values:
        return None
    field_ = max(values, key=lambda f: len(values[f]))
    distinct = list(values[field_])
    if len(distinct) < INDEX_MIN:
        return None
    size = math.isqrt(len(distinct) - 1) + 1
    bucket = {v: i // size + 1 for i, v in enumerate(distinct)}
    name, table_name = "_index", "_index_of"
    table = ex.Table(table_name, bucket)
    index = Derived(name, f"the bucket of {field_}", ex.Call("lookup_or", (
        ex.Name(table_name), ex.Name(field_), ex.Lit(0, "integer"))), "integer", (field_,),
        hidden=True)
    types[name], where[name] = "integer", "derived"
    out = []
    for rule, d in zip(compiled, discs, strict=True):
        if field_ in d:
            condition = {"$and": [{"$eq": {name: bucket[d[field_]]}}, rule.condition]}
            rule = replace(rule, condition=condition, match=compile_condition(condition))
        out.append(rule)
    return out, index, table
