"""Defaults < environment < create_app(config) (service/config.py)."""

from __future__ import annotations

from pathlib import Path

from service.config import DEFAULTS, load_config


def test_defaults():
    config = load_config(environ={})
    assert config["POLICIES_DIR"] == "policies"
    assert config["DATABASE_URL"] == "sqlite:///var/rehab-rules.db"
    assert config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert config["REHAB_RULES_HASH_KEY"] is None


def test_var_dir_moves_the_default_database_file(tmp_path: Path):
    """Two servers with different VAR_DIR in one folder must not share one database."""
    assert load_config(environ={"VAR_DIR": "var-a"})["DATABASE_URL"] == (
        "sqlite:///var-a/rehab-rules.db")
    assert load_config(environ={"VAR_DIR": str(tmp_path)})["DATABASE_URL"] == (
        f"sqlite:///{tmp_path}/rehab-rules.db")
    # create_app's own VAR_DIR wins over the environment's, for the file too
    assert load_config({"VAR_DIR": "b"}, environ={"VAR_DIR": "a"})["DATABASE_URL"] == (
        "sqlite:///b/rehab-rules.db")
    # an empty DATABASE_URL is unset, like every other setting
    assert load_config(environ={"VAR_DIR": "c", "DATABASE_URL": ""})["DATABASE_URL"] == (
        "sqlite:///c/rehab-rules.db")


def test_a_set_database_url_is_kept_whatever_the_var_dir():
    url = "postgresql+psycopg://db/x"
    assert load_config(environ={"VAR_DIR": "a", "DATABASE_URL": url})["DATABASE_URL"] == url
    assert load_config({"DATABASE_URL": url, "VAR_DIR": "b"}, environ={})[
        "DATABASE_URL"] == url


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
