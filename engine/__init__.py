"""rehab-rules engine: versioned YAML policies → durable_rules → decisions with citations.

The flow of one decision: :func:`decide` resolves the version in force on ``as_of`` or on
the date fact ``version_by`` names (:mod:`engine.resolve`), checks and coerces the facts
(:mod:`engine.facts`), derives values (:mod:`engine.derive`), evaluates the compiled
conditions (:mod:`engine.backend`, through :mod:`engine.durable_host`, the only importer of
durable_rules) and builds a :class:`Decision` with messages in fi, sv or en
(:mod:`engine.messages`). :func:`decide_many` decides a batch with the same answers, sharing
what the requests of one policy, version and action have in common (:mod:`engine.batch`).

The engine never imports Flask or SQLAlchemy.
"""

from engine.batch import decide_many
from engine.decide import decide
from engine.errors import (
    EngineError,
    EvaluationError,
    FactError,
    LookupFailed,
    NoVersionInForce,
    PolicyError,
    Problem,
    UnknownAction,
    UnknownPolicy,
    UnknownVersion,
)
from engine.model import Decision, Finding, Policy, PolicyVersion, TraceEntry
from engine.store import PolicyStore

__all__ = [
    "Decision",
    "EngineError",
    "EvaluationError",
    "FactError",
    "Finding",
    "LookupFailed",
    "NoVersionInForce",
    "Policy",
    "PolicyError",
    "PolicyStore",
    "PolicyVersion",
    "Problem",
    "TraceEntry",
    "UnknownAction",
    "UnknownPolicy",
    "UnknownVersion",
    "decide",
    "decide_many",
]
