"""``GET /v1/health``: open to anyone, for load balancers and the bench's baseline."""

from __future__ import annotations

from service.extensions import services
from service.parsing import ApiBlueprint
from service.schemas import HealthSchema

__all__ = ["blp"]

blp = ApiBlueprint("health", __name__, url_prefix="/v1/health", description="Liveness")


@blp.route("")
@blp.response(200, HealthSchema)
def health():
    """Is the service up, which policy bundle does this worker serve, and is it the active one?"""
    source = services().policies
    store = source.current()
    status = source.status()
    return {"status": "degraded" if status["error"] else "ok",
            "policies": len(store.policies), "bundle": status}
