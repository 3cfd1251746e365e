"""What the app holds for its views: the API object, policies, log, tokens, masker, metrics.

Built once in ``create_app`` and reached from a view with :func:`services`, so views never
build anything themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_smorest import Api

from service.bundles import BundleStore
from service.decision_log import DecisionLog
from service.decisions import DecisionHandler
from service.errors import error_response
from service.idempotency import Idempotency
from service.masking import Masker
from service.metrics import Metrics
from service.policy_source import PolicySource
from service.schemas import ErrorEnvelopeSchema
from service.tokens import TokenStore

__all__ = ["ServiceApi", "Services", "services"]


class ServiceApi(Api):
    """flask-smorest's Api, with HTTP errors in our one error shape instead of its own."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def handle_http_exception(self, error):
        return error_response(error)


@dataclass(frozen=True)
class Services:
    policies: PolicySource
    bundles: BundleStore
    log: DecisionLog
    tokens: TokenStore
    masker: Masker
    metrics: Metrics
    decisions: DecisionHandler
    idempotency: Idempotency


def services() -> Services:
    return current_app.extensions["rehab_rules"]
