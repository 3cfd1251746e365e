"""The application factory: configuration → logging → database → policies → API.

Heavy things (compiled policies, the database engine, the masking key) are built once here,
per worker process, and handed to the views through ``app.extensions``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_swagger_ui import get_swaggerui_blueprint
from sqlalchemy import Engine

from service import errors, explorer
from service.blueprints import BLUEPRINTS
from service.bundles import BundleStore
from service.config import load_config
from service.database import check_at_head, make_engine
from service.decision_log import DecisionLog
from service.decisions import DecisionHandler
from service.extensions import ServiceApi, Services
from service.idempotency import Idempotency
from service.json_provider import OrjsonProvider
from service.masking import Masker, ScrubFilter, load_or_create_key
from service.metrics import Metrics
from service.parsing import read_whole_body
from service.policy_source import PolicySource
from service.tokens import TokenStore

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A ready app; ``config`` overrides the environment, which overrides the defaults."""
    app = Flask("service")
    app.config.update(load_config(config))
    app.json = OrjsonProvider(app)
    app.json.sort_keys = False
    _configure_logging(app.config["LOG_LEVEL"])

    engine = make_engine(app.config["DATABASE_URL"])
    check_at_head(engine)
    app.extensions["rehab_rules"] = _services(app.config, engine)

    api = ServiceApi(app, spec_kwargs={"info": {
        "description": "Rules of Kela's rehabilitation service descriptions, as an API."}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    errors.init_app(app)
    app.before_request(lambda: read_whole_body(request))
    _serve_docs(app)
    explorer.init_app(app)       # HTML pages for people: not in the OpenAPI document
    _count_responses(app)
    return app


def _services(config: Mapping[str, Any], engine: Engine) -> Services:
    """What the views use, built once per worker on the database at ``engine``."""
    metrics = Metrics()
    secret = load_or_create_key(config["REHAB_RULES_HASH_KEY"], Path(config["VAR_DIR"]))
    masker = Masker(secret)
    bundles = BundleStore(engine, masker)
    decision_log = DecisionLog(engine)
    bootstrap = config["POLICIES_BOOTSTRAP"]
    if bootstrap is None:
        bootstrap = engine.dialect.name == "sqlite"
    return Services(
        policies=PolicySource(bundles, config["POLICIES_DIR"], bootstrap=bool(bootstrap),
                              fixtures=config.get("FIXTURES_DIR"),
                              check_seconds=float(config["BUNDLE_CHECK_SECONDS"]),
                              metrics=metrics),
        bundles=bundles,
        log=decision_log,
        tokens=TokenStore(engine, float(config["TOKEN_CACHE_SECONDS"]), masker),
        masker=masker,
        metrics=metrics,
        decisions=DecisionHandler(decision_log, masker, metrics),
        idempotency=Idempotency(engine, secret, float(config["IDEMPOTENCY_SECONDS"])),
    )


def _serve_docs(app: Flask) -> None:
    """``/docs``: Swagger UI from the installed package, so it works with no internet."""
    app.register_blueprint(get_swaggerui_blueprint(
        "/docs", "/openapi.json",
        # no online validator badge: it would call validator.swagger.io from the browser
        config={"app_name": "rehab-rules API", "validatorUrl": None}))


def _count_responses(app: Flask) -> None:
    """Every answer, errors included, counted by method, URL rule and status."""
    metrics = app.extensions["rehab_rules"].metrics

    @app.after_request
    def count(response):
        rule = request.url_rule
        metrics.count_response(request.method, rule.rule if rule else "<unmatched>",
                               response.status_code)
        return response


def _configure_logging(level: str) -> None:
    """One stderr handler for the ``service`` loggers (gunicorn collects stderr), scrubbed."""
    logger = logging.getLogger("service")
    logger.setLevel(level.upper())
    if not any(getattr(h, "_rehab_rules", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(ScrubFilter())
        handler._rehab_rules = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
