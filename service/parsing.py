"""Reading request bodies: strict JSON, whatever the client's Content-Type says.

webargs alone would accept ``NaN``, ``Infinity`` and ``1e999`` (Python's json does), which no
other JSON parser or PostgreSQL's JSON type accepts; let a body nested thousands deep raise
``RecursionError`` (a 500); and silently ignore a JSON body sent as form data by a bare
``curl -d``. This parser turns the first two into 400 ``malformed_json`` and reads the third.

werkzeug answers 413 for a ``Content-Length`` over ``MAX_CONTENT_LENGTH``, but a chunked body
(no length) is only cut off at the limit: the rest would be dropped and the first MiB
judged. This parser answers 413 for a streamed body that reaches the limit.
"""

from __future__ import annotations

import json
import math
from typing import Any

import flask
from flask_smorest import Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import RequestEntityTooLarge

__all__ = ["ApiBlueprint", "StrictJsonParser", "loads_strict"]


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is too large for a JSON number")
    return value


def loads_strict(data: bytes | str) -> Any:
    """``json.loads`` that accepts only what RFC 8259 does; every failure is a
    ``JSONDecodeError`` (webargs answers it with 400)."""
    try:
        return json.loads(data, parse_constant=_no_constants, parse_float=_finite)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:     # incl. UnicodeDecodeError, huge ints
        raise json.JSONDecodeError(str(exc) or type(exc).__name__, "<body>", 0) from exc


class StrictJsonParser(FlaskParser):
    def _raw_load_json(self, req: flask.Request) -> Any:
        data = req.get_data(cache=True)
        limit = req.max_content_length
        if limit is not None and req.content_length is None and len(data) >= limit:
            raise RequestEntityTooLarge()
        if not data:
            return core.missing
        return loads_strict(data)


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint whose ``@arguments`` read bodies with the strict parser."""

    ARGUMENTS_PARSER = StrictJsonParser()
