"""The public names of a module, read from its source: what its ``__all__`` must list.

As httpx's own export test does: every top-level ``def``, ``class`` and assignment whose name
does not start with ``_`` is public, and a module's ``__all__`` names exactly those (plus
names it hands on from elsewhere, if it says so). Read from the text, not by importing, so a
module whose import has effects (``service.wsgi`` builds an app) is read like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["declared", "defined_public", "modules"]


def modules(package: Path) -> list[Path]:
    """Every module of ``package``, its subpackages included; not Alembic's migration
    scripts (files Alembic loads by path, whose names its protocol fixes)."""
    return sorted(p for p in package.rglob("*.py") if "migrations" not in p.parts)


def defined_public(path: Path) -> list[str]:
    """The public names ``path`` defines at its top level, in order."""
    names: list[str] = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target,
                                                                             ast.Name):
            names.append(node.target.id)
    return [n for n in dict.fromkeys(names) if not n.startswith("_")]


def declared(path: Path) -> list[str] | None:
    """The module's ``__all__`` as written (a list of texts), or None if it has none."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return None
