"""service/json_provider.py: answers written by orjson are the JSON Flask wrote."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from flask import Flask

from service.json_provider import OrjsonProvider


@pytest.fixture
def app() -> Flask:
    app = Flask("t")
    app.json = OrjsonProvider(app)
    app.json.sort_keys = False
    return app


@dataclasses.dataclass
class Point:
    x: int


VALUES = [
    {"decision_id": "a", "outcome": "allow", "violations": [], "results": {"billable": True}},
    {"message": "Toteutunut kuntoutuspäivä € \u2028 \"q\" \\ <b>", "n": None, "f": 0.1},
    {"day": dt.date(2025, 5, 1), "at": dt.datetime(2025, 5, 1, 12, 30, tzinfo=dt.UTC)},
    {"id": uuid.UUID(int=7), "amount": Decimal("12.50"), "point": Point(3), "t": (1, 2)},
    {"z": [1, [2, {"y": False}]], "e": {}, "l": []},
    [{"b": 1, "a": 2}],
    "text",
    None,
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
@pytest.mark.parametrize("sort_keys", [False, True])
def test_an_answer_is_the_json_flask_wrote(app, value, sort_keys):
    """The same JSON as Flask's own provider writes (key order included), compact, with
    its newline; dates, decimals and dataclasses written as Flask writes them."""
    app.json.sort_keys = sort_keys
    stock = Flask("stock")
    stock.json.sort_keys = sort_keys
    with app.app_context():
        ours = app.json.response(value).get_data()
    with stock.app_context():
        theirs = stock.json.response(value).get_data()
    assert ours.endswith(b"\n") and b": " not in ours.replace(b'": "', b"")
    assert json.loads(ours, object_pairs_hook=list) == json.loads(theirs,
                                                                  object_pairs_hook=list)


def test_keys_that_are_not_text_become_text_in_their_order(app):
    """As json.dumps writes them (the service sorts no keys)."""
    value = {2: "two", 1: "one", None: "none", False: "no", 0.5: "half"}
    with app.app_context():
        body = app.json.response(value).get_data()
    assert json.loads(body, object_pairs_hook=list) == json.loads(
        json.dumps(value), object_pairs_hook=list)


def test_non_ascii_is_utf8_and_the_mimetype_is_json(app):
    with app.app_context():
        response = app.json.response({"päivä": "Työkokeilu"})
    assert response.get_data() == '{"päivä":"Työkokeilu"}\n'.encode()
    assert response.mimetype == "application/json"


def test_what_orjson_refuses_is_written_by_the_standard_library(app):
    """An integer beyond 64 bits (a fact a client may send back in an error's details)
    is answered, not a 500."""
    with app.app_context():
        body = app.json.response({"n": 2**80, "m": -(2**70)}).get_data()
    assert json.loads(body) == {"n": 2**80, "m": -(2**70)}


def test_an_unknown_type_is_still_an_error(app):
    with app.app_context(), pytest.raises(TypeError):
        app.json.response({"x": object()})


def test_debug_answers_are_indented_by_flask(app):
    app.debug = True
    with app.app_context():
        body = app.json.response({"a": [1]}).get_data().decode()
    assert body == '{\n  "a": [\n    1\n  ]\n}\n'

