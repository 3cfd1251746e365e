import datetime as dt
import re

import pytest

from engine import expressions as ex

SCOPE = ex.Scope(
    types={"n": "integer", "x": "number", "d": "date", "s": "string", "b": "boolean",
           "xs": "list:string", "t": "table", "as_of": "date"},
    params={"t": {"a": {"lo": 1}, "b": {"lo": 2}}},
    where={"t": "parameter"},
)


@pytest.mark.parametrize("text,kind", [
    ("n < 3", "boolean"), ("x + n", "number"), ("n * 2", "integer"), ("n / 2", "number"),
    ('s in ["a", "b"]', "boolean"), ("d is missing", "boolean"),
    ("add_months(d, 6)", "date"), ('lookup(t, s, "lo")', "integer"),
    ("not b or n >= 1 and s != \"q\"", "boolean"), ("2025-04-01 <= d", "boolean"),
    ("length(xs) > 2", "boolean"), ("-n", "integer"),
    ('lookup_or(t, s, "lo", 0)', "integer"), ('lookup_or(t, s, "lo", 0) > 1', "boolean"),
])
def test_types(text, kind):
    assert ex.check(ex.parse(text), SCOPE) == kind


@pytest.mark.parametrize("text,message", [
    ("d < 3", "cannot compare date with integer"),
    ("b < true", "only compare with == or !="),
    ("d + 1", "use add_days()"),
    ("nn < 1", "did you mean 'n'"),
    ("significant", 'write "significant" in double quotes'),
    ("s = 1", "write == to compare"),
    ("s == 'a'", "text goes in double quotes"),
    ("n <", "unexpected 'end of expression'"),
    ("n 3", "join conditions with and / or"),
    ('lookup(t, s, "hi")', "has no column 'hi'"),
    ("lookup(s, s)", "needs a table parameter"),
    ("xs == xs", "cannot compare a list"),
    ("d is absent", "write 'is missing' or 'is present'"),
    ('s < "b"', "text only compares with ==, != or in [..], not <"),
    ('lookup_or(t, s, "lo", as_of)', "the default is date but the table holds integer"),
    ("frobnicate(n)", "unknown function frobnicate()"),
])
def test_errors(text, message):
    with pytest.raises(ex.ExprError, match=re.escape(message)):
        ex.check(ex.parse(text), SCOPE)


@pytest.mark.parametrize("text", ["", "  ", "\u200b", " \u3164\ufeff ", "\U000e0020"])
def test_a_blank_expression_is_empty_whatever_invisible_characters_it_holds(text):
    with pytest.raises(ex.ExprError, match="the expression is empty"):
        ex.parse(text)


def test_missing_values_make_comparisons_false_even_negated():
    tree = ex.negation_normal_form(ex.parse("not (n < 5)"))
    assert tree == ex.Cmp(">=", ex.Name("n"), ex.Lit(5, "integer"))
    assert ex.evaluate(tree, {}) is False
    assert ex.evaluate(ex.negation_normal_form(ex.parse("n != 5")), {}) is False
    assert ex.evaluate(ex.negation_normal_form(ex.parse("n is missing")), {}) is True


def test_nnf_de_morgan_and_bare_booleans():
    tree = ex.negation_normal_form(ex.parse("not (b and s in [\"a\"])"))
    assert tree == ex.BoolOp("or", (ex.Cmp("==", ex.Name("b"), ex.Lit(False, "boolean")),
                                    ex.InList(ex.Name("s"), ex.ListLit((ex.Lit("a", "string"),)),
                                              True)))


def test_evaluate_functions_and_arithmetic():
    values = {"d": dt.date(2026, 8, 31), "n": 3, "t": ex.Table("t", {"a": {"lo": 1}}), "s": "a"}
    assert ex.evaluate(ex.parse("add_months(d, 6)"), values) == dt.date(2027, 2, 28)
    assert ex.evaluate(ex.parse('lookup(t, s, "lo") + n'), values) == 4
    assert ex.evaluate(ex.parse("n / 0"), values) is None
    assert ex.evaluate(ex.parse("coalesce(missing_one, 7)"), values) == 7
    assert ex.evaluate(ex.parse("add_days(missing_one, 1)"), values) is None
    assert ex.evaluate(ex.parse('lookup_or(t, "zz", "lo", 9)'), values) == 9
    assert ex.evaluate(ex.parse('lookup_or(t, s, "lo", 9)'), values) == 1
    assert ex.evaluate(ex.parse('lookup_or(t, missing_one, "lo", 9)'), values) == 9


def test_string_escapes_and_dates():
    assert ex.parse(r'"say \"hi\""') == ex.Lit('say "hi"', "string")
    assert ex.parse("2025-04-01") == ex.Lit(dt.date(2025, 4, 1), "date")
    with pytest.raises(ex.ExprError, match="not a date"):
        ex.parse("2025-02-30")


def test_names_in():
    assert ex.names_in(ex.parse("add_days(d, n) < as_of and d is present")) == ["d", "n", "as_of"]


def test_compiled_closures_compute_what_the_interpreter_computes(real_store):
    """Every derived value, set: and due: of every fixture case, both ways."""
    from engine.derive import derive
    from engine.errors import EngineError
    from engine.facts import check_facts
    from engine.fixtures import load_cases
    from tests.conftest import FIXTURES

    cases, _ = load_cases([FIXTURES])
    compared = 0
    for case in cases:
        version = real_store.get_version(case.policy, case.version)
        plan = real_store.current.plan(version, case.action)
        try:
            values = derive(plan, check_facts(plan.action, case.facts), case.as_of)
        except EngineError:
            continue
        for d, fn in zip(plan.derived, plan.derive_fns, strict=True):
            assert fn(values) == ex.evaluate(d.expr, values), (case.name, d.name)
            compared += 1
        for rule in plan.rules:
            for key, fn in rule.set_fns.items():
                try:
                    want = ex.evaluate(rule.rule.sets[key], values)
                except Exception as exc:                 # the same failure both ways
                    with pytest.raises(type(exc)):
                        fn(values)
                    continue
                assert fn(values) == want, (case.name, rule.rule.id, key)
            if rule.due_fn is not None:
                assert rule.due_fn(values) == ex.evaluate(rule.rule.due, values)
    assert compared > 1000


@pytest.mark.parametrize("text", [
    "has_key(t, s)", "not has_key(t, s)", "has_key(t, s) == false", "has_key(t, s) != true",
    "has_key(t, s) != false", 'lookup_or(t, s, "lo", 9)', 'lookup_or(t, s, "lo", 9) > 0',
    "s", "s is missing"])
def test_table_probes_compiled_as_interpreted(text):
    """The fused probes (``has_key`` as yes/no, ``lookup_or`` as one ``get``) give what the
    interpreter gives: key present, absent, missing, a missing table, a row that is falsy."""
    tree = ex.negation_normal_form(ex.parse(text))
    fn = ex.compile_expr(tree)
    table = ex.Table("t", {"a": {"lo": 1}, "z": {"lo": 0}})
    for values in ({"t": table, "s": "a"}, {"t": table, "s": "zz"}, {"t": table},
                   {"t": table, "s": "z"}, {"s": "a"}, {}):
        if "lookup_or" in text and "t" not in values:
            continue                     # lookup_or's table is a parameter: always there
        assert fn(values) == ex.evaluate(tree, values), values
