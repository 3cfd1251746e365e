"""A check schemathesis runs beside its own (``SCHEMATHESIS_HOOKS``): a request the OpenAPI
document calls valid is never refused as ``invalid_request`` for anything but the rules that
tie fields together, which a JSON schema cannot state (``since`` after ``until``,
``as_of_from`` after ``as_of_until``; an impact request with neither files nor a version)."""

from __future__ import annotations

from typing import Any

import schemathesis

CROSS_FIELD = {
    "must not be later than until",
    "must not be later than as_of_until",
    "send the draft's files, or a version to pin every decision to (or both)",
}


def _messages(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, list):
        return [m for v in value for m in _messages(v)]
    return [repr(value)]


@schemathesis.check
def schema_valid_is_never_refused_by_the_schema(ctx, response, case) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    error = (response.json() or {}).get("error", {})
    if error.get("code") != "invalid_request":
        return None
    odd = [m for m in _messages(error.get("details", {}).get("fields", {}))
           if m not in CROSS_FIELD]
    if odd:
        raise AssertionError(f"a request the document calls valid was refused: {odd}")
    return None
