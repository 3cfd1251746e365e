import doctest
import importlib
import pkgutil

import pytest

import engine

MODULES = sorted(m.name for m in pkgutil.iter_modules(engine.__path__))


def test_public_names_are_curated():
    assert sorted(engine.__all__) == sorted(
        n for n in dir(engine) if not n.startswith("_") and n in engine.__all__)
    for name in engine.__all__:
        assert getattr(engine, name) is not None


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
