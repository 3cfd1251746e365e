"""flask-smorest's view documentation, fenced: where a view carries its OpenAPI text.

flask-smorest's decorators (``arguments``, ``response``, ``doc`` …) leave what they document
in the private attribute ``_apidoc`` of the view function, merged decorator by decorator,
and the Api reads it when the blueprint is registered. A decorator of ours that wraps a view
(:func:`service.auth.require`, the fast path of :class:`service.parsing.ApiBlueprint`) must
carry that documentation over to its wrapper, adding its own: :func:`carry_apidoc` is the one
place that knows the attribute and how flask-smorest merges it.

``tests/service/test_smorest_apidoc.py`` fails naming the attribute if a flask-smorest
release keeps the documentation elsewhere; ``pyproject.toml`` keeps flask-smorest below 0.48.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_smorest.utils import deepupdate

__all__ = ["carry_apidoc"]

# the attribute flask-smorest's decorators document a view function in
_APIDOC = "_apidoc"


def carry_apidoc(view: Callable[..., Any], wrapper: Callable[..., Any],
                 extra: dict[str, Any] | None = None) -> None:
    """Give ``wrapper`` the documentation flask-smorest has gathered on ``view``, with
    ``extra`` merged in as flask-smorest merges its own decorators' (``manual_doc``,
    ``responses`` …)."""
    doc = getattr(view, _APIDOC, {})
    setattr(wrapper, _APIDOC, deepupdate(doc, extra) if extra else doc)
