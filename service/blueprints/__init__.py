"""The API's blueprints, registered in this order by ``create_app``."""

from service.blueprints.admin import blp as admin
from service.blueprints.decisions import blp as decisions
from service.blueprints.health import blp as health
from service.blueprints.policies import blp as policies

__all__ = ["BLUEPRINTS"]

BLUEPRINTS = (health, policies, decisions, admin)
