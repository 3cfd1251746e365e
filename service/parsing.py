"""Reading request bodies: strict JSON, whatever the client's Content-Type says.

webargs alone would accept ``NaN``, ``Infinity`` and ``1e999`` (Python's json does), which no
other JSON parser or PostgreSQL's JSON type accepts; read ``1e-400`` as 0, a number the client
never wrote; keep the last of two equal keys (``{"policy": "a", "policy": "b"}`` is judged
under ``b``, while another reader of the same body may take ``a``); let a body nested
thousands deep raise ``RecursionError`` (a 500); and silently ignore a JSON body sent as form
data by a bare ``curl -d``. This parser answers each of the first four with 400
``malformed_json`` (a duplicate key is named) and reads the last.

werkzeug answers 413 for a ``Content-Length`` over ``MAX_CONTENT_LENGTH``, but a chunked body
(no length) is only cut off at the limit: the rest would be dropped and the first MiB
judged, a JSON body and a form ("try it") alike. :func:`read_whole_body` runs before every
request and answers 413 for a streamed body that reaches the limit.

webargs reads JSON bodies with :func:`read_json` (through :mod:`service.webargs_json`), and
a declared body is kept where werkzeug keeps it (:mod:`service.werkzeug_body`).
``@blp.arguments(schema, fast=loader)`` reads a plainly valid JSON body with a compiled
loader (:class:`service.fastload.FastLoader`) and leaves every other body to webargs and the
schema, so errors and the OpenAPI document are exactly what ``@blp.arguments(schema)`` gives.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from typing import Any

import flask
from flask_smorest import Blueprint
from webargs import core
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from service.errors import MalformedRequest
from service.smorest_apidoc import carry_apidoc
from service.webargs_json import RawJsonParser
from service.werkzeug_body import cached_body, keep_body, stream_opened

__all__ = ["ApiBlueprint", "DuplicateKey", "loads_strict", "read_json", "read_whole_body"]


class DuplicateKey(ValueError):
    """A JSON object names one key twice; ``key`` is that key."""

    def __init__(self, key: str):
        super().__init__(f"the key {key!r} appears twice in one JSON object")
        self.key = key


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# a number whose digits are not all zero (before any exponent)
_NONZERO = re.compile(r"-?0*\.?0*[1-9]")


def _finite(text: str) -> float:
    """A JSON number with a fraction or an exponent, as the client wrote it: too large
    (``1e400``) and too small (``1e-400``, read as 0) are both refused."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is too large for a JSON number")
    if value == 0.0 and _NONZERO.match(text):
        raise ValueError(f"{text} is too small for a JSON number (it would be read as 0)")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different; DuplicateKey names the first repeated one."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return obj


# one decoder for every body: json.loads with these hooks would build one per call
_DECODE = json.JSONDecoder(parse_constant=_no_constants, parse_float=_finite,
                           object_pairs_hook=_unique).decode


def loads_strict(data: bytes | str) -> Any:
    """``json.loads`` that accepts only what RFC 8259 does, with every key of an object
    different; a repeated key is :class:`DuplicateKey`, every other failure a
    ``JSONDecodeError`` (webargs answers it with 400)."""
    try:
        if isinstance(data, (bytes, bytearray)):      # as json.loads reads bytes
            data = data.decode(json.detect_encoding(data), "surrogatepass")
        elif data.startswith("\ufeff"):              # and refuses a text with a BOM
            raise json.JSONDecodeError("Unexpected UTF-8 BOM", data, 0)
        return _DECODE(data)
    except (json.JSONDecodeError, DuplicateKey):
        raise
    except (ValueError, RecursionError) as exc:     # incl. UnicodeDecodeError, huge ints
        raise json.JSONDecodeError(str(exc) or type(exc).__name__, "<body>", 0) from exc


def _declared_body(req: flask.Request) -> bytes | None:
    """The body of a request that declares its length (within the limit), read in one call
    from the server's stream and kept where ``get_data`` finds it; None when werkzeug must
    read it (no length, too long, or already being read).

    werkzeug's wrapped stream reads a small body in several Python layers and calls, about
    as costly as validating it; a declared length needs none of that.
    """
    length = req.content_length
    limit = req.max_content_length
    if (not length or (limit is not None and length > limit)
            or cached_body(req) is not None or stream_opened(req)):
        return None
    data = req.environ["wsgi.input"].read(length)
    if len(data) != length:              # as werkzeug's stream does when the client left
        raise ClientDisconnected()
    keep_body(req, data)                 # what get_data(cache=True) returns from now on
    return data


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def read_whole_body(req: flask.Request) -> None:
    """Before every request: a body sent without ``Content-Length`` (chunked) is read here,
    whole, and one that reaches ``MAX_CONTENT_LENGTH`` is 413 — werkzeug would stop at the
    limit and let the form or JSON parser judge the first MiB as if it were all.

    The bytes are kept where ``get_data`` and the form parser find them.
    """
    if req.content_length is not None:
        return
    chunked = "chunked" in req.headers.get("Transfer-Encoding", "").lower()
    if not chunked and not (req.method in _BODY_METHODS
                            and req.environ.get("wsgi.input_terminated")):
        return                  # no body (gunicorn marks every request input_terminated)
    data = req.get_data(cache=True)
    limit = req.max_content_length
    if limit is not None and len(data) >= limit:
        raise RequestEntityTooLarge()


def read_json(req: flask.Request) -> Any:
    """A JSON body read strictly (:func:`loads_strict`), whatever the request's
    Content-Type: ``webargs.core.missing`` for no body (the schema names every required
    field: a 422), 400 for what is not JSON, 413 for a streamed body that reaches the limit.
    """
    data = _declared_body(req)
    if data is None:
        data = req.get_data(cache=True)
    limit = req.max_content_length
    if limit is not None and req.content_length is None and len(data) >= limit:
        raise RequestEntityTooLarge()
    if not data:
        return core.missing
    try:
        return loads_strict(data)
    except DuplicateKey as exc:
        raise MalformedRequest(f"the request body is not valid JSON: {exc}",
                               {"duplicate_key": exc.key}) from None


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint whose ``@arguments`` read bodies with the strict parser."""

    ARGUMENTS_PARSER = RawJsonParser(read_json)

    def arguments(self, schema: Any, *, fast: Any = None, **kwargs: Any) -> Callable:
        """flask-smorest's ``arguments``; with ``fast`` (an object whose ``plain(data)``
        returns the loaded body, or None when the schema must judge it), a JSON body
        ``fast`` accepts skips webargs and marshmallow (about 0.1 ms of every decision
        request). Every other body, and the documentation, go the usual way."""
        decorate = super().arguments(schema, **kwargs)
        if fast is None:
            return decorate
        if kwargs.get("location", "json") != "json":
            raise ValueError("a fast loader reads JSON bodies only")

        def decorator(func: Callable) -> Callable:
            usual = decorate(func)

            @functools.wraps(func)
            def wrapper(*args: Any, **kw: Any) -> Any:
                try:
                    data = read_json(flask.request)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return usual(*args, **kw)      # webargs answers it: 400
                body = None if data is core.missing else fast.plain(data)
                if body is None:
                    return usual(*args, **kw)
                return func(*args, body, **kw)

            carry_apidoc(usual, wrapper)
            return wrapper

        return decorator
