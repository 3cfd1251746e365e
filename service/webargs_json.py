"""webargs' JSON reading, fenced: the one private hook of its Flask parser the service uses.

webargs reads a JSON body in ``Parser._raw_load_json(req)`` (the text to a Python value;
``core.missing`` for no body), which it documents nowhere but which every other step of its
JSON location calls. :mod:`service.parsing` needs its own reading there (strict JSON, a
repeated key named, a chunked body read whole): :class:`RawJsonParser` takes it as a plain
function, so that ``_raw_load_json`` is written here and nowhere else.

``tests/service/test_webargs_json.py`` fails naming the hook if a webargs release stops
reading JSON through it; ``pyproject.toml`` keeps webargs below 9.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask
from webargs.flaskparser import FlaskParser

__all__ = ["RawJsonParser"]


class RawJsonParser(FlaskParser):
    """webargs' Flask parser, reading a JSON body with ``read`` instead of its own reader.

    ``read(request)`` returns the body's value, ``webargs.core.missing`` for no body, or
    raises ``json.JSONDecodeError`` (webargs answers it with 400) or any error of the
    caller's.
    """

    def __init__(self, read: Callable[[flask.Request], Any], **kwargs: Any):
        super().__init__(**kwargs)
        self.read = read

    def _raw_load_json(self, req: flask.Request) -> Any:     # webargs' private hook
        return self.read(req)
