"""The engine's public names: each module's ``__all__`` is what it defines for others.

As httpx's export test: a top-level ``def``, ``class`` or assignment not starting with ``_``
is public, so it is in the module's ``__all__``, or the test fails naming it (list it, or
make it ``_private``). ``engine/__init__.py`` hands on exactly its ``__all__``. And the
examples in every docstring run.
"""

import doctest
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import engine
from tests.public_names import declared, defined_public, modules

PACKAGE = Path(engine.__file__).parent
MODULES = sorted(m.name for m in pkgutil.iter_modules(engine.__path__))


@pytest.mark.parametrize("path", modules(PACKAGE), ids=lambda p: p.name)
def test_every_public_name_is_in_all(path):
    names = declared(path)
    assert names, f"{path.name} declares no __all__"
    missing = [n for n in defined_public(path) if n not in names]
    assert not missing, (f"engine/{path.name} defines public names its __all__ leaves out: "
                         f"{missing}; list them there, or start them with _")


def test_the_package_hands_on_exactly_its_all():
    public = {name for name, value in vars(engine).items()
              if not name.startswith("_") and not inspect.ismodule(value)}
    assert public == set(engine.__all__)


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_all(name):
    module = importlib.import_module(f"engine.{name}")
    assert isinstance(module.__all__, list) and module.__all__   # order: ruff RUF022
    for exported in module.__all__:
        assert hasattr(module, exported), f"engine.{name}.__all__ names missing {exported}"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"engine.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
