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

from pathlib import Path
from typing import Any

import yaml

from engine.errors import Problem

__all__ = ["LineDict", "LineList", "line_at", "plain", "read_yaml", "read_yaml_text"]


class LineDict(dict):
    """A mapping read from YAML: ``line`` is where it starts, ``lines[key]`` where each key is."""

    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LineList(list):
    """A list read from YAML: ``line`` is where it starts, ``lines[i]`` where item i is."""

    line: int = 0

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


def line_at(node: Any, path: list[Any], default: int = 1) -> int:
    """The line of the deepest element of ``path`` that exists under ``node``."""
    line = getattr(node, "line", default) or default
    for key in path:
        if isinstance(node, LineDict) and key in node:
            line = node.line_of(key)
            node = node[key]
        elif isinstance(node, LineList) and isinstance(key, int) and 0 <= key < len(node):
            line = node.line_of(key)
            node = node[key]
        else:
            break
    return line


def plain(value: Any) -> Any:
    """The same data as ordinary dicts and lists, without line marks."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _make_loader(path: str, problems: list[Problem]) -> type[yaml.SafeLoader]:
    class _Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)          # merged pairs (<<: *anchor) come first
        merged = len(node.value) - explicit
        out = LineDict()
        out.line = node.start_mark.line + 1
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
        out.lines = [child.start_mark.line + 1 for child in node.value]
        return out

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return _Loader


def read_yaml_text(text: str, path: str) -> tuple[Any, list[Problem]]:
    """Parse ``text``; return the document (``None`` if unreadable) and the problems found."""
    problems: list[Problem] = []
    try:
        doc = yaml.load(text, Loader=_make_loader(path, problems))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or str(exc)
        if "could not determine a constructor" in what:
            what += "; policy files may not carry tags such as !!python/..."
        problems.append(Problem(path, line, f"not valid YAML: {what}", "yaml_syntax"))
        return None, problems
    except yaml.YAMLError as exc:
        problems.append(Problem(path, 1, f"not valid YAML: {exc}", "yaml_syntax"))
        return None, problems
    return doc, problems


def read_yaml(path: Path) -> tuple[Any, list[Problem], bytes]:
    """Read a file; also return its bytes so the caller can digest exactly what was read."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(str(path), 1, f"not UTF-8 text: {exc}", "encoding")], raw
    doc, problems = read_yaml_text(text, str(path))
    return doc, problems, raw
