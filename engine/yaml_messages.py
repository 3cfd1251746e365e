"""PyYAML's error messages, fenced: the words of its parsers the loader tells mistakes by.

PyYAML reports a syntax error as English text (``problem``, and ``context`` for what it was
doing), with no code; its C parser (libyaml, used when present) and its Python parser word
the same mistake differently ("mapping values are not allowed in this context" / "… here").
:func:`engine.loader.explain_syntax` turns those words into a planner's explanation at the
right line, so it must recognise them: every phrase it relies on is here, once, under a name
for the mistake (:data:`PROBLEMS`, :data:`CONTEXTS`), and nowhere else.

``tests/engine/test_yaml_messages.py`` makes each mistake with both parsers and fails naming
the phrase if a PyYAML release words it otherwise; ``pyproject.toml`` keeps PyYAML below 7.

>>> problem_is("mapping values are not allowed here", "second_colon")
True
"""

from __future__ import annotations

__all__ = ["CONTEXTS", "PROBLEMS", "context_is", "problem_is"]

# a mistake → the phrases of PyYAML's ``problem`` that mean it (C parser, Python parser)
PROBLEMS: dict[str, tuple[str, ...]] = {
    "unknown_tag": ("could not determine a constructor",),
    "tab": ("tab", "'\\t'"),                              # the Python parser names the tab
    "cannot_start_token": ("cannot start any token",),    # a tab, said by libyaml
    "missing_colon": ("could not find expected ':'",),
    "second_colon": ("mapping values are not allowed",),
    "key_where_item": ("expected '-' indicator", "found '?'"),
    "misaligned": ("did not find expected key", "expected <block end>"),
    "undefined_alias": ("undefined alias",),
    "duplicate_anchor": ("second occurrence", "found duplicate anchor"),
    "too_deep": ("nesting depth",),                       # libyaml's own limit
}

# what the parser was reading → the phrases of its ``context``
CONTEXTS: dict[str, tuple[str, ...]] = {
    "quoted_scalar": ("quoted scalar",),
    "flow_mapping": ("flow mapping",),
    "flow_sequence": ("flow sequence",),
    "flow": ("flow",),                                    # a { … } or a [ … ]
    "quoted": ("quoted",),
}


def problem_is(problem: str, mistake: str) -> bool:
    """True when PyYAML's ``problem`` text says ``mistake`` (a key of :data:`PROBLEMS`)."""
    return any(phrase in problem for phrase in PROBLEMS[mistake])


def context_is(context: str, reading: str) -> bool:
    """True when PyYAML's ``context`` text says it was reading ``reading`` (a key of
    :data:`CONTEXTS`)."""
    return any(phrase in context for phrase in CONTEXTS[reading])
