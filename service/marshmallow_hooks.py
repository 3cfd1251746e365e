"""marshmallow's schema hooks, fenced: does a schema have any?

:class:`service.fastload.FastLoader` compiles a request schema into plain checks and must
refuse a schema whose hooks (``pre_load``, ``post_load``, ``validates``,
``validates_schema`` …) it would skip. marshmallow registers them in the private class
attribute ``Schema._hooks`` (hook kind → method names); :func:`has_hooks` is the one place
that reads it.

``tests/service/test_marshmallow_hooks.py`` fails naming the attribute if a marshmallow
release registers hooks elsewhere; ``pyproject.toml`` keeps marshmallow below 5.
"""

from __future__ import annotations

from marshmallow import Schema

__all__ = ["has_hooks"]


def has_hooks(schema: Schema) -> bool:
    """True when ``schema`` (or a schema it inherits from) declares any hook method."""
    return any(schema._hooks.values())
