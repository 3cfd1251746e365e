"""The compiled request loader (service/fastload.py) against marshmallow, the one definition.

The decision endpoints load a plainly valid body with :class:`FastLoader` and leave every
other body to ``DecisionRequestSchema``. These tests keep the two equal: the same bodies
accepted with the same loaded values, the same errors naming the same fields, over a written
corpus and over generated bodies, directly and over HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, pre_load, validate

from engine.model import LANGUAGES
from service.blueprints.decisions import REQUEST
from service.fastload import FastLoader
from service.schemas import DecisionRequestSchema
from tests.service.conftest import decision_body

SCHEMA = DecisionRequestSchema()
LOADER = FastLoader(SCHEMA)

VALID: list[Any] = [
    decision_body(),
    decision_body(lang="sv", explain=True),
    decision_body(lang="en", explain=False, version="2025-01"),
    decision_body(version="v.1_x-2"),
    decision_body(version="2025-01\n"),           # Regexp matches as re.match does: "$"
    decision_body(facts={}),
    decision_body(facts={"hours": None, "note": ["a", {"b": 1}], "client": "131052-308T"}),
    decision_body(policy="p" * 100, action="a"),
    decision_body(policy="ääkköset ja välit", action="toiminto/1"),
    decision_body(as_of="2024-02-29"),
    decision_body(as_of="0001-01-01"),
]

INVALID: list[Any] = [
    None, [], "text", 7, True, [decision_body()],
    {},
    {k: v for k, v in decision_body().items() if k != "policy"},
    {k: v for k, v in decision_body().items() if k != "facts"},
    {k: v for k, v in decision_body().items() if k != "as_of"},
    decision_body(policy=""), decision_body(policy="p" * 101), decision_body(policy=7),
    decision_body(policy=None), decision_body(policy=["tiny"]),
    decision_body(action=""), decision_body(action=None), decision_body(action={"a": 1}),
    decision_body(as_of="2025-02-29"), decision_body(as_of="20250310"),
    decision_body(as_of="2025-W11-1"), decision_body(as_of="2025-3-10"),
    decision_body(as_of=" 2025-03-10"), decision_body(as_of=20250310),
    decision_body(as_of=None), decision_body(as_of="2025-03-10T00:00:00"),
    decision_body(version=""), decision_body(version="2025 01"), decision_body(version="../x"),
    decision_body(version=2025), decision_body(version=None), decision_body(version="x" * 101),
    decision_body(lang="de"), decision_body(lang="FI"), decision_body(lang=None),
    decision_body(lang=""), decision_body(lang=["fi"]),
    decision_body(explain="true"), decision_body(explain=1), decision_body(explain=None),
    decision_body(explain=0),
    decision_body(facts=None), decision_body(facts=[]), decision_body(facts="hours=5"),
    decision_body(facts=[["hours", 5]]),
    decision_body(extra=1), decision_body(Policy="tiny"), decision_body(**{"": 1}),
    decision_body(policy="", action="", as_of="x", facts=None, lang="de", explain="no"),
    decision_body(policy="131052-308T" * 10),
]


def outcome(load: Any, data: Any) -> tuple[str, Any]:
    try:
        return "ok", load(data)
    except ValidationError as exc:
        return "error", exc.messages


@pytest.mark.parametrize("data", VALID, ids=repr)
def test_a_valid_body_takes_the_shortcut_and_loads_as_marshmallow_does(data):
    loaded = LOADER.plain(data)
    assert loaded is not None, "the shortcut refused a plainly valid body"
    assert loaded == SCHEMA.load(data)
    assert type(loaded["as_of"]) is dt.date and loaded["facts"] is not data["facts"]


@pytest.mark.parametrize("data", INVALID, ids=repr)
def test_an_invalid_body_is_left_to_marshmallow(data):
    assert LOADER.plain(data) is None
    assert outcome(LOADER.load, data) == outcome(SCHEMA.load, data)
    assert outcome(SCHEMA.load, data)[0] == "error"


_TEXT = st.one_of(st.sampled_from(["", "tiny", "day", "2025-01", *LANGUAGES, "x" * 100,
                                   "x" * 101, "a b", "2025-03-10", "../x", "FI", "x\n"]),
                  st.text(max_size=12))
_VALUE = st.one_of(_TEXT, st.none(), st.booleans(), st.integers(-3, 3),
                   st.floats(allow_nan=False), st.lists(st.integers(), max_size=2),
                   st.dictionaries(_TEXT, st.integers(), max_size=2))
_KEY = st.sampled_from(["policy", "action", "as_of", "version", "lang", "explain", "facts",
                        "extra", "Policy"])


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    """Mostly valid bodies with a few fields dropped, added or replaced by anything."""
    body = decision_body(lang=draw(st.sampled_from(LANGUAGES)),
                         explain=draw(st.booleans()))
    if draw(st.booleans()):
        body["version"] = draw(st.sampled_from(["2025-01", "2025-06"]))
    for key in draw(st.lists(_KEY, max_size=3)):
        if draw(st.booleans()):
            body.pop(key, None)
        else:
            body[key] = draw(_VALUE)
    return draw(st.one_of(st.just(body), st.just(body), st.just(body), _VALUE))


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_generated_bodies_load_alike(data):
    fast = LOADER.plain(data)
    usual = outcome(SCHEMA.load, data)
    if fast is not None:
        assert usual == ("ok", fast)
    assert outcome(LOADER.load, data) == usual


def test_the_endpoints_loader_is_compiled_from_the_request_schema():
    assert type(REQUEST.schema) is DecisionRequestSchema
    assert REQUEST.plain(decision_body()) == SCHEMA.load(decision_body())


def test_what_the_compiler_does_not_know_is_refused_at_import():
    class Hooked(Schema):
        name = fields.String()

        @pre_load
        def strip(self, data, **kwargs):
            return data

    class Range(Schema):
        n = fields.Integer(validate=validate.Range(min=1))

    class Custom(Schema):
        name = fields.String(validate=lambda v: v != "x")

    class Loose(Schema):
        name = fields.String()

    for schema in (Hooked(unknown="raise"), Range(unknown="raise"), Custom(unknown="raise"),
                   Loose(unknown="exclude"), Loose(partial=True)):
        with pytest.raises(TypeError):
            FastLoader(schema)


# --- over HTTP: the shortcut's answers are the usual path's -----------------------------

def _answers(client, tokens, bodies: list[Any]) -> list[tuple[int, Any]]:
    out = []
    for body in bodies:
        response = client.post("/v1/decisions", data=json.dumps(body),
                               headers={**tokens["provider"],
                                        "Content-Type": "application/json"})
        answer = response.get_json()
        if response.status_code == 200:
            answer.pop("decision_id")
        out.append((response.status_code, answer))
    return out


def test_over_http_every_body_is_answered_as_without_the_shortcut(client, tokens, monkeypatch):
    corpus = [*VALID, *INVALID, decision_body(policy="nope"), decision_body(action="nope"),
              decision_body(version="2030-01"), decision_body(as_of="1999-01-01"),
              decision_body(facts={"hours": "five"}), decision_body(facts={"bogus": 1})]
    fast = _answers(client, tokens, corpus)
    monkeypatch.setattr(REQUEST, "plain", lambda data: None)
    usual = _answers(client, tokens, corpus)
    assert fast == usual
    for body, (status, answer) in zip(corpus, fast, strict=True):
        assert status < 500, body
        if body in INVALID:
            assert status == 422, body
            expected = outcome(SCHEMA.load, body)[1]
            assert set(answer["error"]["details"]["fields"]) == set(expected), body


def test_over_http_malformed_json_and_empty_bodies_are_still_answered_alike(client, tokens,
                                                                            monkeypatch):
    raw = [b"", b"{", b"NaN", b'{"policy": 1e999}', b"\xff", b"[" * 5000, b"null"]

    def answers() -> list[tuple[int, Any]]:
        return [(r.status_code, r.get_json()) for r in (
            client.post("/v1/decisions", data=body, headers={
                **tokens["provider"], "Content-Type": "application/json"}) for body in raw)]

    fast = answers()
    monkeypatch.setattr(REQUEST, "plain", lambda data: None)
    assert fast == answers()
    assert [status for status, _ in fast] == [422, 400, 400, 400, 400, 400, 422]
