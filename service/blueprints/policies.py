"""Reading policies: the list, one version's full description, and a diff of two versions."""

from __future__ import annotations

from flask import Response, current_app
from flask.views import MethodView

from engine.diff import diff_versions
from service.auth import ANY_ROLE, require
from service.errors import documented
from service.extensions import services
from service.parsing import ApiBlueprint
from service.schemas import DiffQuerySchema, DiffSchema, PolicyListSchema, VersionDetailSchema

__all__ = ["Policies", "PolicyDiff", "PolicyVersion", "blp", "policy_summaries"]

blp = ApiBlueprint("policies", __name__, url_prefix="/v1/policies",
                description="Policies and their versions")


def policy_summaries(store) -> list[dict]:
    return [
        {"policy": p.name, "title": dict(p.title), "versions": [v.summary() for v in p.versions]}
        for _, p in sorted(store.policies.items())
    ]


@blp.route("")
class Policies(MethodView):
    @require(*ANY_ROLE)
    @blp.response(200, PolicyListSchema)
    def get(self):
        """Every policy with its title and versions (version, effective_from, digest)."""
        return {"policies": policy_summaries(services().policies.current())}


@blp.route("/<string:policy>/versions/<string:version>")
class PolicyVersion(MethodView):
    @require(*ANY_ROLE)
    @blp.response(200, VersionDetailSchema)
    @blp.doc(**documented({404: "`unknown_policy`, `unknown_version`"}))
    def get(self, policy: str, version: str):
        """Parameters, rules, and the facts each action takes with their types."""
        return services().policies.current().get_version(policy, version).describe()


@blp.route("/<string:policy>/diff")
class PolicyDiff(MethodView):
    @require(*ANY_ROLE)
    @blp.arguments(DiffQuerySchema(), location="query", unknown="raise")
    @blp.response(200, DiffSchema)
    @blp.doc(**documented({404: "`unknown_policy`, `unknown_version`",
                           422: "`invalid_request`: `from` or `to` missing"}))
    def get(self, query: dict, policy: str):
        """What changed from one version to another, both resolved: dates, change notes,
        parameters cell by cell with the rules that read them, facts, actions and rules."""
        store = services().policies.current()
        before = store.get_version(policy, query["from_"])
        after = store.get_version(policy, query["to"])
        diff = diff_versions(before, after, store.get_policy(policy).versions)
        # Finnish and Swedish text as UTF-8, not \u00e4: this view's content comes from the
        # policy files only (valid UTF-8, checked at load), so it can always be encoded; the
        # rest of the API keeps Flask's ASCII escapes, which also survive a lone surrogate
        # echoed from a request.
        body = current_app.json.dumps(DiffSchema().dump(diff.to_dict()), ensure_ascii=False)
        return Response(body, mimetype=current_app.json.mimetype)
