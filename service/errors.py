"""Every error the service answers with, and the one handler that turns them into JSON.

The tree::

    ServiceError                 base; ``status``, ``code``, ``message``, ``details``
    ├── MalformedRequest         400 ``malformed_json``: the body is not JSON at all
    ├── Unauthorized             401 ``unauthorized``: no token, or an unknown/revoked one
    ├── Forbidden                403 ``forbidden``: the token's role or provider may not
    ├── NotFound                 404 ``not_found`` (``unknown_decision`` …)
    ├── PayloadTooLarge          413 ``payload_too_large``
    ├── InvalidRequest           422 ``invalid_request``: well-formed JSON with bad content;
    │                            ``details.fields`` maps each field to its messages
    ├── DatabaseUnavailable      503 ``database_unavailable`` with ``Retry-After``: the
    │                            database cannot be reached (or is locked); nothing was
    │                            logged, so nothing was decided — send it again later
    └── DatabaseNotReady         raised at start-up, never answered: the database is not at
                                 the newest migration (``rehab-rules db upgrade``)

(``IdempotencyKeyReused``, 409, lives with the idempotency keys in
:mod:`service.idempotency`.) A driver's connection error — SQLAlchemy's or psycopg's
``OperationalError`` and kin, wherever it is raised — is answered as
:class:`DatabaseUnavailable`, never as a 500: an outage is not a bug.

Engine errors keep their own codes (``unknown_policy``, ``invalid_facts`` …) and are mapped
to a status here, so the HTTP body of an engine error is the engine's ``to_dict()``. Every
body has one shape, ``{"error": {"code", "message", "details"}}``: clients switch on ``code``,
which never changes once published. Anything unexpected is logged with the decision id and
answered with a generic 500 that gives away nothing but that id. A message may quote what
the client sent; any henkilötunnus in it comes back as ``<hetu>``.

An error body stays small whatever was sent: ``details.fields`` itemises at most
:data:`MAX_FIELDS` problems, the message names those and says how many more there were, and
``details.more_fields`` counts the rest: a client that sends thousands of unknown fact
names gets an answer of a few kilobytes, not one that quotes them all.
"""

from __future__ import annotations

import sqlite3
from itertools import islice
from typing import Any

import psycopg
from flask import Flask, current_app, g, has_app_context, jsonify
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from engine import (
    EngineError,
    EvaluationError,
    FactError,
    LookupFailed,
    NoVersionInForce,
    PolicyError,
)
from service.masking import get_logger, redact

__all__ = [
    "MAX_FIELDS",
    "RETRY_AFTER_SECONDS",
    "DatabaseNotReady",
    "DatabaseUnavailable",
    "Forbidden",
    "InvalidRequest",
    "MalformedRequest",
    "NotFound",
    "PayloadTooLarge",
    "ServiceError",
    "Unauthorized",
    "client_error",
    "database_unavailable",
    "documented",
    "error_response",
    "init_app",
]

_log = get_logger("service.errors")

# How many problems one error body itemises; a client that sends more learns how many more.
MAX_FIELDS = 50


class ServiceError(Exception):
    """Base of the service's own errors: an HTTP status plus a stable string code."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class MalformedRequest(ServiceError):
    status, code = 400, "malformed_json"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"


class InvalidRequest(ServiceError):
    status, code = 422, "invalid_request"


class DatabaseNotReady(ServiceError):
    status, code = 500, "database_not_ready"


class DatabaseUnavailable(ServiceError):
    status, code = 503, "database_unavailable"


# what a client is told to wait before it sends a request again while the database is away
RETRY_AFTER_SECONDS = 5

# The errors that mean "the database cannot be reached now", not "this request is wrong"
# nor "the service has a bug": connection refused or lost, a pool that cannot connect,
# SQLite's lock (wrapped by SQLAlchemy, or straight from the drivers the log writers use).
_UNREACHABLE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
    sa_exc.TimeoutError, psycopg.OperationalError, psycopg.InterfaceError,
    sqlite3.OperationalError,
)


def database_unavailable(exc: BaseException) -> bool:
    """True for an error that says the database cannot be reached at the moment."""
    return isinstance(exc, _UNREACHABLE)


# Engine errors: the status each family means to an HTTP client (the families are disjoint).
# EvaluationError is absent on purpose: it is the engine's bug, answered as a generic 500.
_ENGINE_STATUS: tuple[tuple[type[EngineError], int], ...] = (
    (LookupFailed, 404),
    (FactError, 422),
    (NoVersionInForce, 422),
    (PolicyError, 422),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


def client_error(exc: BaseException) -> tuple[int, dict[str, Any]] | None:
    """``(status, error)`` for an error that is the client's (4xx), else ``None``.

    The batch endpoint answers each item's error with it; the handler below does the same
    for a single request.
    """
    if isinstance(exc, ServiceError) and exc.status < 500:
        return exc.status, redact(_capped(exc.to_dict()))
    status = _engine_status(exc)
    if status is not None:
        return status, redact(_capped(exc.to_dict()))
    return None


def _engine_status(exc: BaseException) -> int | None:
    """The status an engine error means to an HTTP client; None for anything else, and for
    :class:`EvaluationError` (the engine's bug: a 500)."""
    if isinstance(exc, EngineError) and not isinstance(exc, EvaluationError):
        for family, status in _ENGINE_STATUS:
            if isinstance(exc, family):
                return status
    return None


def error_response(exc: BaseException):
    """Map any exception to ``(body, status)`` with the one error shape."""
    if isinstance(exc, ServiceError):
        return _body(exc.to_dict()), exc.status
    status = _engine_status(exc)
    if status is not None:
        return _body(exc.to_dict()), status
    if isinstance(exc, HTTPException) and exc.code is not None and exc.code < 500:
        return _body(_from_http(exc)), exc.code, _headers(exc)
    if database_unavailable(exc):
        return _unavailable(exc)
    return _internal(exc)


def _unavailable(exc: BaseException):
    """503 with Retry-After: nothing was logged, so the client must send it again. The
    worker's health says so at once (the next look at the database clears it)."""
    _log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    if has_app_context():
        services = current_app.extensions.get("rehab_rules")
        if services is not None:
            services.policies.database_failed(exc)
    error = DatabaseUnavailable(
        "the database cannot be reached; nothing was decided or logged: send the request "
        f"again in {RETRY_AFTER_SECONDS} s (with the same Idempotency-Key, if any)",
        {"retry_after": RETRY_AFTER_SECONDS})
    return _body(error.to_dict()), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _headers(exc: HTTPException) -> list[tuple[str, str]]:
    """werkzeug's own headers of the error (``Allow`` on a 405), less its Content-Type."""
    return [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]


def _from_http(exc: HTTPException) -> dict[str, Any]:
    """werkzeug and webargs errors: webargs puts its field messages in ``exc.data``."""
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if exc.code == 400 and messages:
        return {"code": "malformed_json", "message": "the request body is not valid JSON",
                "details": {}}
    if exc.code == 422 and isinstance(messages, dict):
        fields: dict[str, Any] = {}
        for location_messages in messages.values():
            if isinstance(location_messages, dict):
                fields.update(location_messages)
        names = ", ".join(sorted(fields)) or "request"
        return {"code": "invalid_request", "message": f"invalid request: {names}",
                "details": {"fields": fields}}
    if exc.code == 413:
        return PayloadTooLarge("the request body is larger than allowed").to_dict()
    return {"code": _HTTP_CODES.get(exc.code or 0, f"http_{exc.code}"),
            "message": exc.description or exc.name, "details": {}}


def _internal(exc: BaseException):
    """Log the whole story with the decision id; tell the client only the id."""
    decision_id = g.get("decision_id") if has_app_context() else None
    _log.error("unexpected error (decision %s)", decision_id, exc_info=exc)
    details = {"decision_id": decision_id} if decision_id else {}
    return _body({"code": "internal_error",
                  "message": "internal error; quote the decision id when reporting it",
                  "details": details}), 500


def _body(error: dict[str, Any]):
    """The envelope; a message may quote what the client sent, so codes are redacted."""
    return jsonify({"error": redact(_capped(error))})


def _capped(error: dict[str, Any]) -> dict[str, Any]:
    """``error`` with at most :data:`MAX_FIELDS` fields itemised, in the order they were
    found (the engine puts the action's own list of facts with the first unknown name).

    The message keeps its head ("invalid facts", "invalid request") and names the kept
    fields, then "and N more"; ``details.more_fields`` is N.

    >>> fields = {f"x{i}": ["not a fact"] for i in range(52)}
    >>> capped = _capped({"code": "invalid_facts", "message": "invalid facts: x0, x1, …",
    ...                   "details": {"fields": fields}})
    >>> len(capped["details"]["fields"]), capped["details"]["more_fields"]
    (50, 2)
    >>> capped["message"][:26], capped["message"][-19:]
    ('invalid facts: x0, x1, x2,', 'x48, x49 and 2 more')
    """
    details = error.get("details")
    fields = details.get("fields") if isinstance(details, dict) else None
    if not isinstance(fields, dict) or len(fields) <= MAX_FIELDS:
        return error
    kept = dict(islice(fields.items(), MAX_FIELDS))
    more = len(fields) - MAX_FIELDS
    head = str(error.get("message", "")).split(":", 1)[0]
    return {**error, "message": f"{head}: {', '.join(map(str, kept))} and {more} more",
            "details": {**details, "fields": kept, "more_fields": more}}


_ENVELOPE = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}


def documented(errors: dict[int, str]) -> dict[str, Any]:
    """OpenAPI ``responses`` for ``@blp.doc``: each status with the codes it can carry.

    >>> documented({404: "`unknown_policy`"})["responses"]["404"]["description"]
    '`unknown_policy`'
    """
    return {"responses": {str(status): {"description": text, "content": _ENVELOPE}
                          for status, text in errors.items()}}


def init_app(app: Flask) -> None:
    """Route every exception a view can raise through :func:`error_response`."""
    app.register_error_handler(Exception, error_response)
