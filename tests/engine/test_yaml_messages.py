"""PyYAML's messages, as engine/yaml_messages.py recognises them.

Each mistake a planner makes is written once and parsed by both of PyYAML's parsers (libyaml,
when installed, and the Python one the loader falls back to); the phrase the loader tells it
by must be in what the parser says. A PyYAML release that words one otherwise fails here,
naming the mistake and the parser's new words, instead of turning a planner's explanation
into the parser's jargon.
"""

from __future__ import annotations

import pytest
import yaml

from engine.yaml_messages import CONTEXTS, PROBLEMS, context_is, problem_is

PARSERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else [])

# mistake → (a YAML text that makes it, the parsers that say it: "C", "Py" or both)
MISTAKES = {
    "unknown_tag": ("a: !!python/object:os.system x\n", "C Py"),
    "tab": ("a:\n\tb: 1\n", "Py"),
    "cannot_start_token": ("a:\n\tb: 1\n", "C Py"),
    "missing_colon": ("a: 1\nb\nc: 2\n", "C Py"),
    "second_colon": ("a: b: c\n", "C Py"),
    "key_where_item": ("a:\n  - 1\n  ? b\n", "C Py"),
    "misaligned": ("a:\n  b: 1\n c: 2\n", "C Py"),
    "undefined_alias": ("a: *x\n", "C Py"),
    "duplicate_anchor": ("a: &x 1\nb: &x 2\n", "C Py"),
}
# reading → a YAML text the parsers give up in while reading it
READINGS = {
    "quoted_scalar": 'a: "abc\nb: 1\n',
    "quoted": 'a: "abc\nb: 1\n',
    "flow_mapping": "a: {b: 1\nc: 2\n",
    "flow_sequence": "a: [1, 2\nc: 2\n",
    "flow": "a: [1, 2\nc: 2\n",
}


def _name(loader: type) -> str:
    return "C" if loader.__name__.startswith("C") else "Py"


def _error(text: str, loader: type) -> yaml.MarkedYAMLError:
    reader = loader(text)
    try:
        reader.construct_document(reader.get_single_node())
    except yaml.MarkedYAMLError as exc:
        return exc
    finally:
        reader.dispose()
    raise AssertionError(f"{loader.__name__} read {text!r} without an error")


@pytest.mark.parametrize(("mistake", "loader"), [
    pytest.param(m, loader, id=f"{m}-{_name(loader)}") for m in sorted(MISTAKES)
    for loader in PARSERS if _name(loader) in MISTAKES[m][1].split()])
def test_each_mistake_is_said_in_the_words_recognised(mistake, loader):
    text, _ = MISTAKES[mistake]
    exc = _error(text, loader)
    assert problem_is(str(exc.problem), mistake), (
        f"PyYAML ({loader.__name__}) no longer says {mistake} with any of "
        f"{PROBLEMS[mistake]}: it says {exc.problem!r}")


@pytest.mark.parametrize("loader", PARSERS, ids=_name)
@pytest.mark.parametrize("reading", sorted(READINGS))
def test_each_reading_is_said_in_the_words_recognised(reading, loader):
    exc = _error(READINGS[reading], loader)
    assert context_is(str(exc.context), reading), (
        f"PyYAML ({loader.__name__}) no longer says it was reading {reading} with any of "
        f"{CONTEXTS[reading]}: it says {exc.context!r}")


def test_libyaml_says_too_deep_in_the_words_recognised():
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("no libyaml: the Python parser has no nesting limit of its own")
    text = "[" * 20000 + "]" * 20000
    with pytest.raises(yaml.MarkedYAMLError) as refused:
        for _ in yaml.parse(text, Loader=yaml.CSafeLoader):
            pass
    assert problem_is(str(refused.value.problem), "too_deep"), (
        f"libyaml no longer says too_deep with any of {PROBLEMS['too_deep']}: "
        f"it says {refused.value.problem!r}")


def test_every_phrase_has_a_case():
    assert set(PROBLEMS) == {*MISTAKES, "too_deep"} and set(CONTEXTS) == set(READINGS)
