"""werkzeug's request body cache, fenced: the two private parts of ``Request`` the service
relies on, each one function named for what it does.

:mod:`service.parsing` reads a body whose length is declared in one call from the server's
stream, past werkzeug's wrapped stream (several Python layers per read), and keeps it where
werkzeug would have kept it, so that ``get_data``, the form parser and the JSON parser all
find it. For that it needs two things werkzeug keeps private:

* where ``Request.get_data(cache=True)`` keeps the body: the attribute ``_cached_data``
  (:func:`cached_body`, :func:`keep_body`);
* whether the body is being read already: ``Request.stream`` is a ``cached_property``, in
  the request's ``__dict__`` once opened (:func:`stream_opened`).

``tests/service/test_werkzeug_body.py`` fails naming the quirk if a werkzeug release changes
either; ``pyproject.toml`` keeps werkzeug below 3.2, the releases it was checked against.
"""

from __future__ import annotations

from werkzeug.wrappers import Request

__all__ = ["cached_body", "keep_body", "stream_opened"]

# werkzeug.wrappers.Request.get_data keeps the body it read in this attribute
_CACHE = "_cached_data"


def cached_body(req: Request) -> bytes | None:
    """The body ``get_data(cache=True)`` has kept, or None if it has kept none yet."""
    return getattr(req, _CACHE, None)


def keep_body(req: Request, data: bytes) -> None:
    """Keep ``data`` as the request's body: what ``get_data`` returns from now on."""
    setattr(req, _CACHE, data)


def stream_opened(req: Request) -> bool:
    """True once something opened ``req.stream`` (the body is being read, maybe in part)."""
    return "stream" in req.__dict__
