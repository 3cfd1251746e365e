"""werkzeug's private request body cache, as service/werkzeug_body.py relies on it.

Each test names the quirk it pins: when a werkzeug release changes one, it fails saying which,
and service/werkzeug_body.py (and the bound in pyproject.toml) is what to look at.
"""

from __future__ import annotations

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from service.werkzeug_body import cached_body, keep_body, stream_opened


def _request(body: bytes = b'{"a": 1}') -> Request:
    return Request(EnvironBuilder(method="POST", data=body,
                                  content_type="application/json").get_environ())


def test_get_data_returns_the_body_kept_in_cached_data():
    req = _request(b"what the stream holds")
    assert cached_body(req) is None, "werkzeug: a fresh Request has a _cached_data already"
    keep_body(req, b"kept")
    assert req.get_data() == b"kept", (
        "werkzeug: Request.get_data no longer returns the body kept in _cached_data")
    assert req.get_data(as_text=True) == "kept"
    assert not stream_opened(req), "werkzeug: get_data opened the stream despite _cached_data"


def test_get_data_keeps_what_it_read_in_cached_data():
    req = _request(b"read once")
    assert req.get_data(cache=True) == b"read once"
    assert cached_body(req) == b"read once", (
        "werkzeug: Request.get_data(cache=True) no longer keeps the body in _cached_data")


def test_an_opened_stream_is_in_the_request_dict():
    req = _request()
    assert not stream_opened(req)
    req.stream.read(1)
    assert stream_opened(req), (
        "werkzeug: Request.stream is no longer a cached_property kept in the request's "
        "__dict__ once opened")


def test_the_json_parser_reads_the_kept_body():
    req = _request(b'{"a": 1}')
    keep_body(req, b'{"b": 2}')
    assert req.get_json() == {"b": 2}, "werkzeug: get_json does not read _cached_data"
