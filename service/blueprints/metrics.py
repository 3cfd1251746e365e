"""``GET /metrics``: Prometheus text format, for a scraper on this host or an ``ops`` token.

A scraper on the same host needs no token. A reverse proxy on the same host makes every
request look local; there, set ``METRICS_OPEN_ON_LOOPBACK=0`` and scrape with an ``ops``
token.
"""

from __future__ import annotations

from flask import Response, current_app

from service.auth import authenticate, from_loopback
from service.errors import Forbidden, documented
from service.extensions import services
from service.metrics import CONTENT_TYPE
from service.parsing import ApiBlueprint

__all__ = ["blp", "metrics"]

blp = ApiBlueprint("metrics", __name__, url_prefix="/metrics", description="Monitoring")

_TEXT = {"description": "Prometheus text exposition format",
         "content": {"text/plain": {"schema": {"type": "string"}}}}


@blp.route("")
@blp.doc(security=[{}, {"bearer": []}], responses={
    "200": _TEXT, **documented({401: "`unauthorized`: not on loopback and no token",
                                403: "`forbidden`: not an ops token"})["responses"]})
def metrics():
    """Counts of decisions, HTTP answers and reloads, with decision latency; every worker's.

    Open to a caller on the loopback address; anyone else needs an `ops` token."""
    # (a view's docstring is its OpenAPI text, which Swagger UI reads as Markdown)
    if not (current_app.config["METRICS_OPEN_ON_LOOPBACK"] and from_loopback()):
        principal = authenticate()
        if principal.role != "ops":
            raise Forbidden(f"role {principal.role!r} may not read metrics",
                            {"allowed_roles": ["ops"]})
    return Response(services().metrics.render(), mimetype=None, content_type=CONTENT_TYPE)

