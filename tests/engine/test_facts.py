import datetime as dt

import pytest

from engine.decide import decide
from engine.errors import FactError, FactProblem
from engine.facts import check_facts, check_value, parse_date
from engine.invisible import is_blank
from engine.model import ActionSpec, FactSpec
from engine.pyeval import PythonEvaluator


def _action(store):
    return store.current.plans[("demo", "2024-01")]["day"]


def test_coercion_and_defaults(demo_store):
    spec = _action(demo_store).action
    out = check_facts(spec, {"hours": 6.0, "kind": "a", "start": "2024-02-29"})
    assert out == {"hours": 6.0, "kind": "a", "paid": False, "start": dt.date(2024, 2, 29)}


@pytest.mark.parametrize("facts,field,message", [
    ({"kind": "a"}, "hours", "required (number)"),
    ({"hours": "7", "kind": "a"}, "hours", "must be a number"),
    ({"hours": True, "kind": "a"}, "hours", "must be a number"),
    ({"hours": float("nan"), "kind": "a"}, "hours", "must be a finite number"),
    ({"hours": 25, "kind": "a"}, "hours", "must be at most 24"),
    ({"hours": 5, "kind": 3}, "kind", "must be text"),
    ({"hours": 5, "kind": "a", "paid": "yes"}, "paid", "must be true or false"),
    ({"hours": 5, "kind": "a", "start": "1.2.2024"}, "start", "YYYY-MM-DD"),
    ({"hours": 5, "kind": "a", "start": "2024-02-30"}, "start", "day is out of range"),
    ({"hours": 5, "kind": "a", "groups": "x"}, "groups", "must be a list of string"),
    ({"hours": 5, "kind": "a", "groups": ["x", 1]}, "groups", "item 2 must be text"),
    ({"hours": 5, "kind": "a", "hourz": 1}, "hourz", "not a fact of action day"),
])
def test_errors_name_the_fact(demo_store, facts, field, message):
    with pytest.raises(FactError) as info:
        check_facts(_action(demo_store).action, facts)
    assert field in info.value.errors
    assert message in info.value.errors[field][0]
    assert info.value.code == "invalid_facts"


@pytest.mark.parametrize("facts,field,code,params", [
    ({"kind": "a"}, "hours", "required", {"type": "number"}),
    ({"hours": "7", "kind": "a"}, "hours", "not_number", {}),
    ({"hours": 25, "kind": "a"}, "hours", "above_max", {"max": 24}),
    ({"hours": 5, "kind": "a", "start": "1.2.2024"}, "start", "not_date", {}),
    ({"hours": 5, "kind": "a", "start": "2024-02-30"}, "start", "no_such_day", {}),
    ({"hours": 5, "kind": "a", "groups": ["x", 1]}, "groups", "not_text", {"item": 2}),
    ({"hours": 5, "kind": "a", "hourz": 1}, "hourz", "unknown_fact_listed",
     {"action": "day"}),
])
def test_every_problem_has_a_stable_code_and_its_values(demo_store, facts, field, code,
                                                        params):
    """A page says the problem in its reader's language from the code and the values; the
    API's English message stays as it was."""
    with pytest.raises(FactError) as info:
        check_facts(_action(demo_store).action, facts)
    problem = info.value.problems[field][0]
    assert isinstance(problem, FactProblem)
    assert problem.code == code
    assert params.items() <= problem.params.items()
    assert info.value.errors[field] == [problem.message]


def test_a_plain_message_gets_the_code_invalid():
    error = FactError({"x": ["something is wrong"]})
    assert error.errors == {"x": ["something is wrong"]}
    assert error.problems["x"][0].code == "invalid"


def test_not_an_object(demo_store):
    with pytest.raises(FactError) as info:
        check_facts(_action(demo_store).action, ["hours"])
    assert "facts" in info.value.errors


def test_unknown_names_list_the_actions_facts_once(demo_store):
    action = _action(demo_store).action
    names = [f"x{i}" for i in range(100)]
    with pytest.raises(FactError) as info:
        check_facts(action, {"hours": 5, "kind": "a", **dict.fromkeys(names, 1)})
    errors = info.value.errors
    assert list(errors) == names
    known = ", ".join(sorted(action.facts))
    assert "hours, kind" in known
    assert errors["x0"] == [f"not a fact of action day (its facts: {known})"]
    assert all(errors[n] == ["not a fact of action day"] for n in names[1:])


def test_parse_date():
    assert parse_date("2025-04-01") == dt.date(2025, 4, 1)
    for bad in ("2025-4-1", "20250401", 20250401, None, "2025-04-01T00:00", "2025-W14-2",
                "２０２５-04-01"):
        with pytest.raises(ValueError):
            parse_date(bad)


def test_lone_surrogates_are_refused(demo_store):
    with pytest.raises(FactError) as info:
        check_facts(_action(demo_store).action, {"hours": 5, "kind": "\ud800"})
    assert "not valid Unicode" in info.value.errors["kind"][0]


# Blank text (empty, whitespace, invisible characters) carries no content: an optional text
# fact sent blank is not sent, a required one is refused naming the fact, a blank list item is
# refused. Otherwise "" would pass for a written justification (TT-5) or a name (TT-17).
BLANKS = ["", "   ", "\t\n", "\u00a0\u3000", "\u200b", "\ufeff \u2060"]


def _text_action() -> ActionSpec:
    return ActionSpec("a", {}, {
        "why": FactSpec("why", "string", required=False),
        "kind": FactSpec("kind", "string", required=False, default="a", one_of=("a", "b")),
        "name": FactSpec("name", "string"),
        "code": FactSpec("code", "hetu", required=False),
        "tags": FactSpec("tags", "list", items="string", required=False),
    }, ())


@pytest.mark.parametrize("blank", BLANKS)
def test_blank_optional_text_is_not_sent(blank):
    out = check_facts(_text_action(), {"name": "N", "why": blank, "code": blank})
    assert out == {"name": "N", "kind": "a"}


@pytest.mark.parametrize("blank", BLANKS)
def test_blank_text_with_a_default_takes_the_default(blank):
    assert check_facts(_text_action(), {"name": "N", "kind": blank})["kind"] == "a"


@pytest.mark.parametrize("blank", BLANKS)
def test_blank_required_text_is_refused_naming_the_fact(demo_store, blank):
    with pytest.raises(FactError) as info:
        check_facts(_action(demo_store).action, {"hours": 5, "kind": blank})
    assert info.value.code == "invalid_facts"
    assert info.value.errors == {"kind": ["must not be blank"]}


@pytest.mark.parametrize("blank", BLANKS)
def test_blank_list_items_are_refused(blank):
    with pytest.raises(FactError) as info:
        check_facts(_text_action(), {"name": "N", "tags": ["x", blank]})
    assert info.value.errors == {"tags": ["item 2 must not be blank"]}


def test_text_with_content_is_kept_as_sent():
    out = check_facts(_text_action(), {"name": " N ", "why": "\u200bsyy ", "tags": []})
    assert (out["name"], out["why"], out["tags"]) == (" N ", "\u200bsyy ", [])


def test_blank_check_keeps_the_other_checks():
    with pytest.raises(FactError) as info:
        check_facts(_text_action(), {"name": "N", "why": " " * 10_001})
    assert "longer than" in info.value.errors["why"][0]
    with pytest.raises(FactError) as info:
        check_facts(_text_action(), {"name": "N", "why": 0})
    assert info.value.errors == {"why": ["must be text"]}


def test_check_value_refuses_blank_text():
    """schema.py checks one_of and default values with check_value: a blank one is a
    policy error, since a request could never send it."""
    with pytest.raises(ValueError, match="must not be blank"):
        check_value(FactSpec("x", "string"), " ")


def test_is_blank():
    assert all(is_blank(b) for b in BLANKS)
    assert not any(is_blank(v) for v in ("x", " . ", "0", 0, None, [], b""))


@pytest.mark.parametrize("evaluator", [None, PythonEvaluator()], ids=["durable", "python"])
def test_blank_optional_fact_is_missing_to_the_rules(demo_store, evaluator):
    """TT-6-code reads ``code is present``: a blank code must not fire it, on either engine."""
    sent = decide(demo_store, policy="demo", action="day", as_of="2024-05-01",
                  facts={"hours": 7, "kind": "a", "code": "  "}, evaluator=evaluator)
    bad = decide(demo_store, policy="demo", action="day", as_of="2024-05-01",
                 facts={"hours": 7, "kind": "a", "code": "x"}, evaluator=evaluator)
    assert "TT-6-code" not in sent.fired
    assert "TT-6-code" in bad.fired


_SPECS = [
    FactSpec("s", "string"), FactSpec("h", "hetu"), FactSpec("c", "string", one_of=("a", "b")),
    FactSpec("i", "integer"), FactSpec("r", "integer", min=0, max=24),
    FactSpec("f", "number", min=0.5, max=7.5), FactSpec("n", "number"),
    FactSpec("b", "boolean"), FactSpec("d", "date"), FactSpec("l", "list", items="string"),
    FactSpec("k", "integer", one_of=(1, 2, 3)),
]
_VALUES = [
    "", " ", "a", "b", "c", "ä", "\u200b", "\ud800", "x" * 10_000, "x" * 10_001, "2024-02-29",
    0, 1, -1, 3, 24, 25, 0.5, 7.5, 7.6, 2.0, 2.5, 10**15, -(10**15), 10**15 - 1, float("nan"),
    float("inf"), True, False, None, [], ["a"], [""], {}, dt.date(2024, 1, 1),
]


@pytest.mark.parametrize("spec", _SPECS, ids=lambda s: s.name)
def test_the_compiled_checker_answers_as_the_full_check(spec):
    """The shortcut for plainly valid values never changes a value or an error."""
    from engine.facts import _check_one, _compile_one

    fast = _compile_one(spec)
    for value in _VALUES:
        try:
            want: object = ("ok", _check_one(spec, value))
        except ValueError as exc:
            want = ("error", str(exc))
        try:
            got: object = ("ok", fast(value))
        except ValueError as exc:
            got = ("error", str(exc))
        assert got == want, value
        if want[0] == "ok":
            assert type(got[1]) is type(want[1]), value


def test_the_generated_checker_answers_as_the_full_check():
    """The straight-line checker (engine.facts._straight) against the loop it shortcuts, on
    requests of the corpus' values for every kind of fact: optional, required, defaults."""
    import random

    from engine.facts import compile_checker
    from engine.model import ActionSpec, FactSpec

    specs = {s.name: s for s in _SPECS}
    specs |= {f"opt_{s.name}": FactSpec(f"opt_{s.name}", s.type, items=s.items,
                                        required=False, one_of=s.one_of, min=s.min, max=s.max)
              for s in _SPECS}
    specs |= {"dflt_i": FactSpec("dflt_i", "integer", required=False, default=3.0),
              "dflt_s": FactSpec("dflt_s", "string", required=False, default="x"),
              "dflt_l": FactSpec("dflt_l", "list", items="string", required=False,
                                 default=["a"]),
              "dflt_bad": FactSpec("dflt_bad", "integer", required=False, default=2.5)}
    check = compile_checker(ActionSpec("a", {}, specs, ()))
    full = check.__globals__["full"]

    def specs_defaults_gone(facts):    # the defaults filled in, an unknown name in their place
        return {k: v for k, v in facts.items() if not k.startswith("dflt")}
    assert check is not full
    rng = random.Random(7)
    plain = {"s": "a", "h": "x", "c": "a", "i": 1, "r": 3, "f": 2.5, "n": 1.0, "b": True,
             "d": "2024-02-29", "l": ["a"], "k": 2}
    requests = [dict(plain), {**plain, "zz": 1}, [], None,
                {**{k: v for k, v in plain.items() if k != "s"}, "zz": "a"},     # as many
                {**plain, "s": None, "zz": None}, {**specs_defaults_gone(plain), "zz": 1}]
    for _ in range(3000):
        facts = {k: v for k, v in plain.items() if rng.random() < 0.9}
        for name in rng.sample(sorted(specs), rng.randint(0, 4)):
            facts[name] = rng.choice(_VALUES)
        if rng.random() < 0.2:      # an unknown name, often in place of a known one dropped
            facts[rng.choice(("zz", "S", ""))] = rng.choice(_VALUES)
        requests.append(facts)
    seen = set()
    for facts in requests:
        answers = []
        for fn in (check, full):
            try:
                answers.append(("ok", fn(facts)))
            except Exception as exc:            # compared, whatever it is
                answers.append((type(exc).__name__, str(exc), getattr(exc, "details", None)))
        assert answers[0] == answers[1], facts
        if answers[0][0] == "ok":
            assert list(answers[0][1]) == list(answers[1][1])             # same key order
            assert [type(v) for v in answers[0][1].values()] == \
                [type(v) for v in answers[1][1].values()]
        seen.add(answers[0][0])
    assert seen == {"ok", "FactError"}


def test_texts_seen_valid_kept_without_emptying_for_a_thousand_values():
    """The set of texts seen valid holds a table's thousand keys (at 256 it was emptied on
    every pass), keeps no long text, and never grows past its bound."""
    from engine import facts

    seen: set[str] = set()
    keys = [f"course_{i:04d}" for i in range(1000)]
    for key in keys * 2:
        assert facts._remember(seen, key)
    assert seen == set(keys)
    assert facts._remember(seen, "x" * (facts._SEEN_LEN + 1)) and len(seen) == 1000
    for i in range(facts._SEEN_MAX * 2):
        facts._remember(seen, str(i))
        assert len(seen) <= facts._SEEN_MAX
    spec = ActionSpec("a", {}, {"s": FactSpec("s", "string", required=True)}, ())
    warm = facts.compile_checker(spec)      # its set fills; a fresh one's is empty
    for key in [*keys, " ", "", "x" * 70, "\u200b", *keys]:
        try:
            expected = check_facts(spec, {"s": key})
        except FactError as exc:
            expected = exc.errors
        try:
            got = warm({"s": key})
        except FactError as exc:
            got = exc.errors
        assert str(got) == str(expected)


def test_the_generated_checker_refuses_an_unknown_name_however_many_were_sent():
    """The generated checker compares the names sent only when their number is not that of
    the known ones found: an unknown name sent beside, or in place of, a known one (left out,
    None, or filled by its default) is still refused, as the full check refuses it."""
    from engine.facts import compile_checker
    from engine.model import ActionSpec, FactSpec

    specs = {"a": FactSpec("a", "string"), "b": FactSpec("b", "integer", required=False),
             "c": FactSpec("c", "integer", required=False, default=3)}
    check = compile_checker(ActionSpec("a", {}, specs, ()))
    full = check.__globals__["full"]
    assert check({"a": "x"}) == {"a": "x", "c": 3}
    assert check({"a": "x", "b": 2, "c": 4}) == {"a": "x", "b": 2, "c": 4}
    for facts in ({"a": "x", "zz": 1}, {"a": "x", "b": None, "zz": 1},
                  {"a": "x", "c": None, "zz": None}, {"a": "x", "b": 2, "c": 4, "zz": 1},
                  {"a": "x", "b": 2, "zz": 1}, {"zz": "x", "b": 2, "c": 4}):
        for fn in (check, full):
            with pytest.raises(FactError) as refused:
                fn(facts)
            assert "zz" in refused.value.details["fields"], facts
