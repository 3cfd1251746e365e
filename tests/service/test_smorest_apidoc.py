"""flask-smorest's private ``_apidoc``, as service/smorest_apidoc.py relies on it.

A wrapper that carries a view's documentation must leave the OpenAPI document as the
decorators made it, plus what the wrapper adds; if flask-smorest keeps the documentation
elsewhere, these fail naming ``_apidoc``.
"""

from __future__ import annotations

import functools

import flask
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields

from service.smorest_apidoc import carry_apidoc


class Body(Schema):
    a = fields.Integer()


def _spec(extra: dict | None) -> dict:
    app = flask.Flask("t")
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    blp = Blueprint("b", __name__, url_prefix="/b")

    def wrap(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            return view(*args, **kwargs)

        carry_apidoc(view, wrapper, extra)
        return wrapper

    @blp.route("", methods=["POST"])
    @wrap
    @blp.arguments(Body)
    @blp.response(200, Body)
    def post(body):
        return body

    api = Api(app)
    api.register_blueprint(blp)
    return api.spec.to_dict()["paths"]["/b"]["post"]


def test_a_wrapper_keeps_the_decorators_documentation():
    operation = _spec(None)
    assert "requestBody" in operation and "200" in operation["responses"], (
        "flask-smorest: a view's documentation is no longer read from its _apidoc attribute")


def test_a_wrapper_adds_its_own_documentation():
    operation = _spec({"manual_doc": {"security": [{"bearer": []}],
                                      "responses": {"401": {"description": "no token"}}}})
    assert operation["security"] == [{"bearer": []}], (
        "flask-smorest: manual_doc merged into _apidoc is not in the document")
    assert set(operation["responses"]) == {"200", "401", "422", "default"}
    assert "requestBody" in operation
