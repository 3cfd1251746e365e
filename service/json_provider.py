r"""The app's JSON answers, written by orjson.

A batch of a hundred decisions answers about 120 kB of JSON; the standard library's C
encoder took 7.3 µs per decision to write it, a tenth of what the whole batch costs per
decision, and orjson takes 0.6 µs. Only answers change writer (:meth:`response`, which
``jsonify`` and flask-smorest use): :meth:`dumps` (templates' ``tojson``, explicit calls)
stays the standard library's. The answer is the same JSON: compact as Flask writes it,
keys in the order given (or sorted, if ``sort_keys``), dates, dataclasses and anything else
orjson does not know handed to Flask's own ``default``; only non-ASCII characters are
written as UTF-8 instead of ``\u`` escapes, and a float may be spelled another way
(``1e16``, not ``1e+16``). A value orjson refuses (an integer beyond 64 bits) is written
by the standard library as before; in debug mode (indented answers) too.

>>> from flask import Flask
>>> app = Flask("example")
>>> app.json = OrjsonProvider(app)
>>> app.json.sort_keys = False
>>> with app.app_context():
...     app.json.response({"päivä": 1, "as_of": "2025-05-01"}).get_data().decode()
...     app.json.response({"big": 2**70}).get_data()
'{"päivä":1,"as_of":"2025-05-01"}\n'
b'{"big":1180591620717411303424}\n'
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

__all__ = ["OrjsonProvider"]

# what Flask's default writes its own way goes to it: dates as HTTP dates, dataclasses;
# keys that are not strings (numbers, None) become strings, as json.dumps makes them
_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
            | orjson.OPT_NON_STR_KEYS)


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON provider, with answers written by orjson (see the module)."""

    def response(self, *args: Any, **kwargs: Any) -> Response:
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        option = _OPTIONS | (orjson.OPT_SORT_KEYS if self.sort_keys else 0)
        try:
            body = orjson.dumps(obj, default=self.default, option=option)
        except TypeError:               # orjson.JSONEncodeError: the standard library's way
            return super().response(obj)
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)
