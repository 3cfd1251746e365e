"""Defaults < environment < create_app(config) (service/config.py)."""

from __future__ import annotations

from service.config import DEFAULTS, load_config


def test_defaults():
    config = load_config(environ={})
    assert config["POLICIES_DIR"] == "policies"
    assert config["DATABASE_URL"] == "sqlite:///var/rehab-rules.db"
    assert config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert config["REHAB_RULES_HASH_KEY"] is None


def test_environment_then_overrides():
    environ = {"DATABASE_URL": "postgresql+psycopg://db/x", "POLICIES_DIR": "p",
               "UNRELATED": "x", "REHAB_RULES_HASH_KEY": ""}
    config = load_config({"POLICIES_DIR": "q"}, environ=environ)
    assert config["DATABASE_URL"] == "postgresql+psycopg://db/x"
    assert config["POLICIES_DIR"] == "q"
    assert "UNRELATED" not in config
    assert config["REHAB_RULES_HASH_KEY"] is None      # empty means unset
    assert DEFAULTS["POLICIES_DIR"] == "policies"      # not mutated


def test_metrics_loopback_flag_reads_like_a_switch():
    assert load_config(environ={})["METRICS_OPEN_ON_LOOPBACK"] is True
    for off in ("0", "false", "No", "off"):
        assert load_config(environ={"METRICS_OPEN_ON_LOOPBACK": off})[
            "METRICS_OPEN_ON_LOOPBACK"] is False
    assert load_config(environ={"METRICS_OPEN_ON_LOOPBACK": "1"})[
        "METRICS_OPEN_ON_LOOPBACK"] is True
