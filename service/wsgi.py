"""The WSGI entry point gunicorn loads (``service.wsgi:app``); configured by the environment.

Each worker imports this module and builds its app; then everything alive (the compiled
policies, the schemas, Flask and SQLAlchemy) is moved out of the cyclic garbage collector's
reach with :func:`gc.freeze`. Otherwise a full (generation 2) collection walks all of it
every few thousand requests — 80–200 ms in the middle of one request (issue 22's open-loop
tail). Frozen objects are still freed by reference counting; a bundle that replaces the
running one later is tracked as usual (:mod:`service.policy_source` freezes again after a
switch).
"""

import gc

from service import create_app

__all__ = ["app"]

app = create_app()
gc.collect()
gc.freeze()
