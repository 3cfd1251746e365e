"""webargs' private JSON hook, as service/webargs_json.py relies on it.

If a webargs release stops reading JSON bodies through ``Parser._raw_load_json``, the strict
reading of every request body (service/parsing.py) would silently be bypassed: these fail,
naming the hook.
"""

from __future__ import annotations

import json

import flask
import pytest
from marshmallow import Schema, fields
from webargs import core
from werkzeug.exceptions import HTTPException

from service.webargs_json import RawJsonParser


class Body(Schema):
    a = fields.Integer(required=True)


def _parse(read, data: bytes = b'{"a": 0}'):
    app = flask.Flask("t")
    with app.test_request_context(method="POST", data=data,
                                  content_type="application/json"):
        return RawJsonParser(read).parse(Body(), flask.request, location="json")


def test_json_bodies_are_read_through_raw_load_json():
    seen = []

    def read(req: flask.Request):
        seen.append(req.get_data())
        return {"a": 7}

    assert _parse(read) == {"a": 7}, (
        "webargs: FlaskParser no longer reads a JSON body through _raw_load_json")
    assert seen == [b'{"a": 0}']


def test_missing_from_the_hook_is_no_body():
    with pytest.raises(HTTPException) as refused:
        _parse(lambda req: core.missing)
    assert refused.value.code == 422, "webargs: core.missing from _raw_load_json is not 'no body'"


def test_a_decode_error_from_the_hook_is_400():
    def broken(req: flask.Request):
        raise json.JSONDecodeError("no", "x", 0)

    with pytest.raises(HTTPException) as refused:
        _parse(broken)
    assert refused.value.code == 400, (
        "webargs: a JSONDecodeError from _raw_load_json is no longer answered with 400")
