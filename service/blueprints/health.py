"""``GET /v1/health``: open to anyone, for load balancers and the bench's baseline.

200 while this worker can serve; 503 with ``Retry-After`` while it cannot reach the database
(decisions are refused then, since none may go unlogged). The database is not asked on each
call: the worker looks at it before requests at most every ``BUNDLE_CHECK_SECONDS`` (and a
request that failed on it says so at once), so health costs nothing extra and still turns
within seconds, both ways.
"""

from __future__ import annotations

from flask import jsonify

from service.errors import RETRY_AFTER_SECONDS
from service.extensions import services
from service.parsing import ApiBlueprint
from service.schemas import HealthSchema

__all__ = ["blp", "health"]

blp = ApiBlueprint("health", __name__, url_prefix="/v1/health", description="Liveness")


@blp.route("")
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="`unavailable`: this worker cannot "
                  "reach the database; decisions answer 503 until it can (`Retry-After`)")
def health():
    """Is the service up, can it reach its database, which policy bundle does this worker
    serve, and is it the active one?"""
    source = services().policies
    store = source.current()
    status = source.status()
    database = {"status": "unavailable" if source.database_error else "ok",
                "error": source.database_error}
    body = {"status": "unavailable" if source.database_error else
            "degraded" if status["error"] else "ok",
            "policies": len(store.policies), "bundle": status, "database": database}
    if source.database_error:
        response = jsonify(HealthSchema().dump(body))
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return body
