"""Strict YAML reading that remembers where every key and item came from.

Planners need ``file:line`` for every mistake, so mappings and lists are read into
:class:`Node` containers that carry the line of each key and item. Reading is
``yaml.SafeLoader`` underneath: a ``!!python/...`` tag is refused, never run. Duplicate
keys are collected as problems instead of silently keeping the last value.

>>> doc, problems = read_yaml_text("a: 1\\nb:\\n  - x\\na: 2\\n", "p.yaml")
>>> doc["a"], doc.line_of("b"), [str(p) for p in problems]
(1, 2, ["p.yaml:4: duplicate key 'a' (first at line 1); remove one of them"])
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from engine.errors import Problem
from engine.folder import Limits
from engine.yaml_messages import context_is, problem_is

__all__ = [
    "LineDict",
    "LineList",
    "Reported",
    "decode_text",
    "explain_syntax",
    "line_at",
    "locate",
    "looks_typed",
    "plain",
    "read_yaml",
    "read_yaml_bytes",
    "read_yaml_text",
]


class Reported(str):
    """A scalar already reported as a problem (``2025-02-30``): later checks stay quiet."""

    reported = True


class _LimitExceeded(Exception):
    def __init__(self, line: int, message: str, code: str):
        super().__init__(message)
        self.line, self.message, self.code = line, message, code


class LineDict(dict):
    """A mapping read from YAML: ``line`` is where it starts, ``lines[key]`` where each key is.

    ``source`` is the file it was read from; a mapping merged from two files (an overlay
    version on its base) keeps, per key, the file that key came from in ``sources``.
    """

    line: int = 0
    source: str | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lines: dict[Any, int] = {}
        self.sources: dict[Any, str] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)

    def source_of(self, key: Any) -> str | None:
        return self.sources.get(key, self.source)


class LineList(list):
    """A list read from YAML: ``line`` is where it starts, ``lines[i]`` where item i is."""

    line: int = 0
    source: str | None = None

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.lines: list[int] = []
        self.sources: list[str | None] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line

    def source_of(self, index: int) -> str | None:
        if 0 <= index < len(self.sources) and self.sources[index]:
            return self.sources[index]
        return self.source


def line_at(node: Any, path: list[Any], default: int = 1) -> int:
    """The line of the deepest element of ``path`` that exists under ``node``."""
    return locate(node, path, "", default)[1]


def locate(node: Any, path: list[Any], default_file: str, default: int = 1) -> tuple[str, int]:
    """The file and line of the deepest element of ``path`` that exists under ``node``."""
    line = getattr(node, "line", default) or default
    where = getattr(node, "source", None) or default_file
    for key in path:
        if isinstance(node, LineDict) and key in node:
            line, where = node.line_of(key), node.source_of(key) or where
            node = node[key]
        elif isinstance(node, LineList) and isinstance(key, int) and 0 <= key < len(node):
            line, where = node.line_of(key), node.source_of(key) or where
            node = node[key]
        else:
            break
    return where, line


def plain(value: Any) -> Any:
    """The same data as ordinary dicts and lists, without line marks."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# libyaml parses ten times faster where PyYAML was built with it; the pure-Python parser
# gives the same documents (nesting is bounded before either composer recurses)
_BASE: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_nesting(text: str, limits: Limits) -> None:
    """Walk the parser's events (no recursion) and stop at nesting or size past the limits,
    before a composer that recurses once per level ever sees the document."""
    depth = events = 0
    for event in yaml.parse(text, Loader=_BASE):
        events += 1
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > limits.max_depth:
                raise _LimitExceeded(
                    event.start_mark.line + 1, f"nested more than {limits.max_depth} levels "
                    "deep; a policy needs a handful (rules → rule → message → fi)", "too_deep")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        if events > limits.max_nodes:
            raise _LimitExceeded(1, f"the file holds more than {limits.max_nodes:,} values; "
                                 "split it", "too_many_values")


def _make_loader(path: str, problems: list[Problem],
                 limits: Limits) -> type[yaml.SafeLoader]:
    class _Loader(_BASE):                # type: ignore[misc, valid-type]
        pass

    def construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        except (ValueError, OverflowError):
            problems.append(Problem(
                path, node.start_mark.line + 1,
                f"{node.value} is not a date on the calendar; write a day that exists "
                "(YYYY-MM-DD)", "bad_date"))
            return Reported(node.value)

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)          # merged pairs (<<: *anchor) come first
        merged = len(node.value) - explicit
        out = LineDict()
        out.line = node.start_mark.line + 1
        out.source = path
        from_merge: set[Any] = set()
        for i, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                problems.append(Problem(path, line, "a key must be plain text", "yaml_key"))
                continue
            if key in out:
                if i < merged:                # an earlier merged mapping takes precedence
                    continue
                if key not in from_merge:
                    problems.append(Problem(
                        path, line,
                        f"duplicate key {key!r} (first at line {out.lines[key]}); remove one "
                        "of them", "duplicate_key"))
                    continue
                from_merge.discard(key)       # an explicit key overrides a merged one
            elif i < merged:
                from_merge.add(key)
            out[key] = loader.construct_object(value_node, deep=True)
            out.lines[key] = line
        return out

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LineList:
        out = LineList(loader.construct_object(child, deep=True) for child in node.value)
        out.line = node.start_mark.line + 1
        out.source = path
        out.lines = [child.start_mark.line + 1 for child in node.value]
        return out

    _Loader.add_constructor("tag:yaml.org,2002:timestamp", construct_timestamp)
    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return _Loader


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """How many values the document holds once every alias is expanded (stops past ``limit``).

    Sizes are memoised per node, so a billion-value alias bomb is counted in a few steps,
    without expanding it; an alias inside its own anchor counts as unlimited.
    """
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in size:
            continue
        children = _children(node)
        if done:
            open_.discard(key)
            size[key] = min(limit + 1, 1 + sum(size[id(c)] for c in children))
            continue
        if key in open_:
            return limit + 1                   # a cycle: refuse
        open_.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_:
                return limit + 1
            if id(child) not in size:
                stack.append((child, False))
    return size[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def read_yaml_text(text: str, path: str,
                   limits: Limits | None = None) -> tuple[Any, list[Problem]]:
    """Parse ``text``; return the document (``None`` if unreadable) and the problems found.

    Nothing escapes as an exception: syntax, nesting past ``limits.max_depth``, aliases that
    expand past ``limits.max_nodes`` and impossible dates all come back as problems.
    """
    limits = limits or Limits.from_env()
    problems: list[Problem] = []
    try:
        _check_nesting(text, limits)
    except _LimitExceeded as exc:
        return None, [Problem(path, exc.line, exc.message, exc.code)]
    except yaml.MarkedYAMLError as exc:
        if problem_is(str(exc.problem), "too_deep"):   # libyaml's own limit, far past ours
            line = exc.problem_mark.line + 1 if exc.problem_mark else 1
            return None, [Problem(path, line, f"nested more than {limits.max_depth} levels "
                                  "deep", "too_deep")]
    except yaml.YAMLError:
        pass                          # the composer below reports it with its line
    loader = _make_loader(path, problems, limits)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(path, 1, "the file is empty (or only comments); write the "
                                  "policy or remove the file", "empty_file")]
        if _expanded_size(node, limits.max_nodes) > limits.max_nodes:
            return None, [Problem(
                path, 1, f"the file holds more than {limits.max_nodes:,} values once its "
                "aliases (*name) are expanded; write the values out or split the file",
                "too_many_values")]
        doc = loader.construct_document(node)
    except _LimitExceeded as exc:
        return None, [Problem(path, exc.line, exc.message, exc.code)]
    except RecursionError:
        return None, [Problem(path, 1, "nested too deep to read", "too_deep")]
    except yaml.MarkedYAMLError as exc:
        line, what = explain_syntax(exc, text)
        problems.append(Problem(path, line, f"not valid YAML: {what}", "yaml_syntax"))
        return None, problems
    except yaml.YAMLError as exc:
        problems.append(Problem(path, 1, f"not valid YAML: {exc}", "yaml_syntax"))
        return None, problems
    finally:
        loader.dispose()
    return doc, problems


def explain_syntax(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, str]:
    """The line a YAML syntax error is really on, and what is wrong there in plain words.

    The parsers report where they gave up, often the line *after* the mistake, in their own
    terms ("expected <block end>, but found '<block mapping start>'"). A planner needs the
    line that is wrong, what is wrong with it and how to fix it, with the line quoted. Each
    kind of mistake is one small reading below (:data:`_READINGS`), tried in order; the
    parsers' words they recognise are :mod:`engine.yaml_messages`.

    >>> import yaml
    >>> try:
    ...     yaml.safe_load("a:\\n  b: 1\\n   c: 2\\n")
    ... except yaml.MarkedYAMLError as exc:
    ...     print(explain_syntax(exc, "a:\\n  b: 1\\n   c: 2\\n")[0])
    3
    """
    err = _YamlError(exc, text)
    if problem_is(err.problem, "unknown_tag"):
        return err.line, (f"{err.problem} — policy files may not carry tags such as "
                          "!!python/...; remove the tag")
    for reading in _READINGS:
        found = reading(err)
        if found is not None:
            n, why = found
            quoted = err.at(n).replace("\t", "⇥").rstrip()
            return n, f"{why}; the line reads: «{quoted}»" if quoted else why
    return err.line, f"{err.problem or exc}"


class _YamlError:
    """One YAML syntax error and the text it is in: the parser's words, its marks, the lines."""

    def __init__(self, exc: yaml.MarkedYAMLError, text: str):
        self.lines = text.splitlines()
        self.problem, self.context = str(exc.problem or ""), str(exc.context or "")
        self.pm, self.cm = exc.problem_mark, exc.context_mark
        self.line = self.pm.line + 1 if self.pm else (self.cm.line + 1 if self.cm else 1)
        self.context_line = self.cm.line + 1 if self.cm else None

    def at(self, n: int) -> str:
        return self.lines[n - 1] if 0 < n <= len(self.lines) else ""

    @staticmethod
    def indent(line: str) -> int:
        return len(line) - len(line.lstrip(" "))

    def above(self, n: int) -> int:
        """The nearest line above ``n`` that holds something (not blank, not a comment)."""
        n -= 1
        while n > 0 and (not self.at(n).strip() or self.at(n).lstrip().startswith("#")):
            n -= 1
        return n

    def odd_quotes(self, n: int) -> bool:
        body = self.at(n).split(" #")[0].replace('\\"', "")
        return body.count('"') % 2 == 1

    def levels_above(self, n: int) -> list[int]:
        """The indents of the lines above ``n`` up to the nearest one at the margin."""
        levels, k = set(), n - 1
        while k > 0 and n - k < 200:
            if self.at(k).strip() and not self.at(k).lstrip().startswith("#"):
                levels.add(self.indent(self.at(k)))
                if self.indent(self.at(k)) == 0:
                    break
            k -= 1
        return sorted(levels)


_Reading = Callable[[_YamlError], "tuple[int, str] | None"]
_UNCLOSED = "a quote that is never closed — end the text with the same quote mark (\" or ')"
_NO_COLON = ("a line without a colon — write it as `name: value`, or put text that belongs to "
             "the line above in quotes on that line")


def _unclosed_quote_in_flow(e: _YamlError) -> tuple[int, str] | None:
    flow = context_is(e.context, "flow")
    n = e.context_line if e.context_line and flow else e.line
    if e.odd_quotes(n) and (flow or context_is(e.context, "quoted")):
        return n, _UNCLOSED
    return None


def _tab(e: _YamlError) -> tuple[int, str] | None:
    tab = next((n for n in range(max(1, e.line - 1), e.line + 1) if "\t" in e.at(n)), None)
    if problem_is(e.problem, "tab") or (tab and problem_is(e.problem, "cannot_start_token")):
        return tab or e.line, "a tab character — indent with spaces only (two per level)"
    return None


def _missing_colon(e: _YamlError) -> tuple[int, str] | None:
    if problem_is(e.problem, "missing_colon") and e.context_line:
        return e.context_line, _NO_COLON
    return None


def _mapping_values(e: _YamlError) -> tuple[int, str] | None:
    if not problem_is(e.problem, "second_colon"):
        return None
    before = e.at(e.line)[:e.pm.column] if e.pm else ""
    prev = e.above(e.line)
    if ": " in before or before.rstrip().endswith(":"):
        return e.line, ('a second colon in a value — put the value in double quotes, e.g. '
                        'key: "text: more text"')
    if prev and ":" not in e.at(prev) and not e.at(prev).lstrip().startswith("- "):
        return prev, _NO_COLON
    return e.line, (f"this line is indented more than the line above it (line {prev}), "
                    "which already has a value — line the keys up, with the same number of "
                    "spaces")


def _open_context(e: _YamlError) -> tuple[int, str] | None:
    if not e.context_line:
        return None
    for context, why in (("quoted_scalar", _UNCLOSED),
                         ("flow_mapping", "a { … } that is not closed, or two items without a "
                                          "comma between them"),
                         ("flow_sequence", "a [ … ] that is not closed, or two items without a "
                                           "comma between them")):
        if context_is(e.context, context):
            return e.context_line, why
    return None


def _key_where_item(e: _YamlError) -> tuple[int, str] | None:
    if problem_is(e.problem, "key_where_item"):
        return e.line, ("a key where a list item was expected — start the line with `- `, or "
                        "indent the list under its key")
    return None


def _misaligned(e: _YamlError) -> tuple[int, str] | None:
    if not problem_is(e.problem, "misaligned"):
        return None
    if e.at(e.line).lstrip().startswith("-"):
        return e.line, ("a list item (-) where a key was expected — give the list its own key "
                        "(`name:` on the line above, items indented below it)")
    shown = " or ".join(str(x) for x in e.levels_above(e.line)) or "0"
    return e.line, (f"this line is indented by {e.indent(e.at(e.line))} spaces, which lines "
                    f"up with no line above it (they start at {shown} spaces) — indent it like "
                    "the key it belongs with")


def _anchors(e: _YamlError) -> tuple[int, str] | None:
    if problem_is(e.problem, "undefined_alias"):
        return e.line, "an alias (*name) with no anchor (&name) above it — define the anchor first"
    if problem_is(e.problem, "duplicate_anchor"):
        return e.line, "the same anchor (&name) is defined twice — give one of them another name"
    return None


_READINGS: tuple[_Reading, ...] = (_unclosed_quote_in_flow, _tab, _missing_colon, _mapping_values,
                                  _open_context, _key_where_item, _misaligned, _anchors)


def decode_text(raw: bytes, path: str) -> tuple[str | None, list[Problem]]:
    """The bytes of a policy or fixture file as text, or why they are not UTF-8 text."""
    if b"\0" in raw:
        line = raw[:raw.index(b"\0")].count(b"\n") + 1
        return None, [Problem(path, line, "a binary file, not YAML text; policy files are "
                              "plain UTF-8 text", "binary")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return None, [Problem(path, line, f"not UTF-8 text (byte {raw[exc.start]:#04x}); save "
                              "the file as UTF-8", "encoding")]
    return text.removeprefix("\ufeff"), []


def read_yaml_bytes(raw: bytes, path: str,
                    limits: Limits | None = None) -> tuple[Any, list[Problem]]:
    """Decode and parse one file's bytes; every failure is a problem at a line."""
    text, problems = decode_text(raw, path)
    if text is None:
        return None, problems
    return read_yaml_text(text, path, limits)


def read_yaml(path: Path, limits: Limits | None = None) -> tuple[Any, list[Problem], bytes]:
    """Read a file; also return its bytes so the caller can digest exactly what was read."""
    limits = limits or Limits.from_env()
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, [Problem(str(path), 1, f"cannot read it: {exc.strerror}", "unreadable")], b""
    if size > limits.max_file_bytes:
        return None, [Problem(str(path), 1, f"the file is {size:,} bytes, over the limit of "
                              f"{limits.max_file_bytes:,}", "too_large")], b""
    raw = path.read_bytes()
    doc, problems = read_yaml_bytes(raw, str(path), limits)
    return doc, problems, raw


_NUMBER_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def looks_typed(text: str) -> str | None:
    """What a quoted value would be without its quotes: a number, yes/no or a date."""
    if _NUMBER_TEXT.fullmatch(text):
        return "a number"
    if text in ("true", "false"):
        return "yes/no"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            dt.date.fromisoformat(text)
            return "a date"
        except ValueError:
            return None
    return None
