"""What a version reads (engine/usage.py): the ground for "a name nothing reads"."""

from __future__ import annotations

from engine.usage import expression_reads, placeholders, usage_of


def test_a_parsed_expression_gives_its_names_and_lookup_columns():
    names, columns, loose = expression_reads(
        'lookup(types, kind, "min_size") <= lookup_or(types, kind, "max_size", 0) and x > 1')
    assert names == {"types", "kind", "x"}
    assert columns == {("types", "min_size"), ("types", "max_size")}
    assert loose == set()


def test_a_misspelt_function_still_reads_its_column():
    """`lookpu(types, kind, "min_size")` is reported for the function; the column it meant
    is not reported again as read by nothing."""
    _, columns, _ = expression_reads('lookpu(types, kind, "min_size")')
    assert columns == {("types", "min_size")}


def test_an_expression_that_does_not_parse_reads_every_name_and_text_in_it():
    names, columns, loose = expression_reads('hours < min_hours and kind = "a" (')
    assert {"hours", "min_hours", "kind"} <= names
    assert columns == set() and loose == {"a"}


def test_placeholders_of_every_language_and_none_of_a_broken_one():
    assert placeholders({"fi": "{a} {b}", "sv": "{c}", "en": "{{literal}}"}) == {"a", "b", "c"}
    assert placeholders({"fi": "{broken"}) == set()


DOC = {
    "version_by": "start",
    "parameters": {"weeks": 2, "names": {"a": {"fi": "A", "sv": "A", "en": "A"}},
                   "sizes": {"a": {"lo": 1, "hi": 2}}, "unused": 1, "areas": ["a"]},
    "checks": [{"id": "c", "for_each": "sizes", "that": "lo <= hi",
                "message": {"fi": "{row}", "sv": "{row}", "en": "{row}"}}],
    "actions": {
        "one": {"facts": {"kind": {"type": "string", "one_of": "names"},
                          "start": {"type": "date"}, "spare": {"type": "string"}},
                "derive": {"due": "add_weeks(start, weeks)"}},
        "two": {"facts": {"n": {"type": "integer"}}},
    },
    "rules": [
        {"action": "one", "when": "as_of > due and kind in areas",
         "message": {"fi": "{weeks}", "sv": "", "en": ""}},
        {"action": ["one", "two"], "when": "n > 1"},
    ],
}


def test_usage_of_a_version():
    u = usage_of(DOC)
    assert u.parameters == {"weeks", "names", "sizes", "areas"}          # not "unused"
    # a one_of that names a table reads its keys and the values' names in each language
    assert {("names", "fi"), ("names", "sv"), ("names", "en")} <= u.columns
    assert u.column_read("sizes", "lo") and u.column_read("sizes", "hi")
    assert u.by_action["one"] >= {"as_of", "due", "kind", "areas", "start", "weeks", "n"}
    assert "spare" not in u.by_action["one"]
    assert u.by_action["two"] == {"n", "start"}           # the policy's version_by


def test_usage_of_any_shape_is_empty_not_an_error():
    for doc in (None, [], {"rules": "x", "actions": [], "parameters": 3}):
        u = usage_of(doc)
        assert not u.parameters and not u.by_action
