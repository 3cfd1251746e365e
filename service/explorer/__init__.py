"""The policy explorer: server-rendered pages where people read the rules the API applies.

One package (views, sign-in, the word catalogues, the charts, templates and static files), so
the pages use the service's auth and engine, never another blueprint's private helpers.
"""

from service.explorer.views import bp, init_app

__all__ = ["bp", "init_app"]
