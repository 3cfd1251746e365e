"""The API's blueprints, registered in this order by ``create_app``."""

from service.blueprints import admin, decisions, health, impact, metrics, policies

__all__ = ["BLUEPRINTS"]

BLUEPRINTS = (health.blp, policies.blp, impact.blp, decisions.blp, admin.blp, metrics.blp)
