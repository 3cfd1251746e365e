"""The service's public names, and the examples in its docstrings.

As httpx's export test: a top-level ``def``, ``class`` or assignment not starting with ``_``
is public, so it is in the module's ``__all__``, or the test fails naming it (list it, or
make it ``_private``). A blueprint's views are public: they are its routes. Alembic's
migration scripts are left out (Alembic loads them by path, and its protocol names their
functions). Every ``>>>`` example in a docstring of the service runs; ``service.wsgi`` is
read but not imported for that (importing it builds an app from the environment).
"""

from __future__ import annotations

import doctest
import importlib
import inspect
from pathlib import Path

import pytest

import service
from tests.public_names import declared, defined_public, modules

PACKAGE = Path(service.__file__).parent
ROOT = PACKAGE.parent


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


PATHS = modules(PACKAGE)


@pytest.mark.parametrize("path", PATHS, ids=_module)
def test_every_public_name_is_in_all(path):
    names = declared(path)
    assert names, f"{_module(path)} declares no __all__"
    missing = [n for n in defined_public(path) if n not in names]
    assert not missing, (f"{_module(path)} defines public names its __all__ leaves out: "
                         f"{missing}; list them there, or start them with _")


@pytest.mark.parametrize("path", [p for p in PATHS if _module(p) != "service.wsgi"],
                         ids=_module)
def test_all_names_exist_and_examples_run(path):
    module = importlib.import_module(_module(path))
    for exported in module.__all__:
        assert hasattr(module, exported), f"{_module(path)}.__all__ names missing {exported}"
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_package_hands_on_exactly_its_all():
    public = {name for name, value in vars(service).items()
              if not name.startswith("_") and not inspect.ismodule(value)}
    assert public == set(service.__all__)


def test_some_examples_exist():
    """The docstrings do carry examples (a silent doctest run proves nothing otherwise)."""
    finder = doctest.DocTestFinder()
    found = sum(len(t.examples) for p in PATHS if _module(p) != "service.wsgi"
                for t in finder.find(importlib.import_module(_module(p))))
    assert found >= 10
