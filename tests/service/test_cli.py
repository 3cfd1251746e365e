"""rehab-rules db | tokens | serve | publish | bundles | impact | fixtures from-log
(service/cli.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from service import cli
from service.database import make_engine
from service.tokens import TokenStore


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'cli.db'}"


def run(command, *args, env=None):
    result = CliRunner().invoke(command, list(args), env=env)
    return result


def test_db_upgrade_creates_the_tables_and_is_idempotent(url):
    for _ in range(2):
        result = run(cli.db, "upgrade", "--database-url", url)
        assert result.exit_code == 0, result.output
    assert {"decisions", "tokens", "alembic_version"} <= set(
        inspect(make_engine(url)).get_table_names())


def test_db_upgrade_reads_database_url_from_the_environment(url):
    assert run(cli.db, "upgrade", env={"DATABASE_URL": url}).exit_code == 0
    assert "decisions" in inspect(make_engine(url)).get_table_names()


def test_without_database_url_the_commands_use_the_file_in_var_dir(tmp_path):
    """db upgrade and tokens default to VAR_DIR/rehab-rules.db, as the app does."""
    var = tmp_path / "elsewhere"
    env = {"DATABASE_URL": "", "VAR_DIR": str(var)}
    upgraded = run(cli.db, "upgrade", env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert str(var / "rehab-rules.db") in upgraded.output
    created = run(cli.tokens, "create", "--role", "planner", env=env)
    assert created.exit_code == 0, created.output
    url = f"sqlite:///{var / 'rehab-rules.db'}"
    assert TokenStore(make_engine(url)).verify(created.stdout.strip()) is not None
    assert created.stdout.strip() not in run(cli.tokens, "list", env=env).output
    assert len(run(cli.tokens, "list", env=env).output.splitlines()) == 1


def test_tokens_create_list_revoke(url):
    run(cli.db, "upgrade", "--database-url", url)
    created = run(cli.tokens, "create", "--role", "provider", "--provider-id", "1234567-1",
                  "--name", "Kuntoutus Oy", "--database-url", url)
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("rr_") and "not shown again" in created.stderr
    principal = TokenStore(make_engine(url)).verify(token)
    assert principal.role == "provider" and principal.name == "Kuntoutus Oy"

    listed = run(cli.tokens, "list", "--database-url", url)
    assert principal.token_id in listed.output and "1234567-1" in listed.output
    assert token not in listed.output

    assert run(cli.tokens, "revoke", principal.token_id, "--database-url", url).exit_code == 0
    assert TokenStore(make_engine(url)).verify(token) is None
    again = run(cli.tokens, "revoke", principal.token_id, "--database-url", url)
    assert again.exit_code != 0 and "no live token" in again.output


def test_tokens_create_refuses_a_provider_without_business_id(url):
    run(cli.db, "upgrade", "--database-url", url)
    result = run(cli.tokens, "create", "--role", "provider", "--database-url", url)
    assert result.exit_code == 2 and "provider-id" in result.output


def test_serve_runs_gunicorn_with_sync_workers(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cli.os, "execv", lambda exe, argv: calls.append(argv))
    # serve puts the shared-metrics directory into its own environment before the exec;
    # monkeypatch owns the variable, so it is gone again after this test
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "counter_1.db").write_bytes(b"left by an earlier run")
    result = run(cli.serve, env={"HOST": "127.0.0.1", "PORT": "9999", "WORKERS": "3"})
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:9999/docs" in result.output and "tokens create" in result.output
    argv = calls[0]
    assert argv[1:3] == ["-m", "gunicorn"]
    assert argv[argv.index("--workers") + 1] == "3"
    assert argv[argv.index("--worker-class") + 1] == "sync"
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:9999"
    assert argv[-1] == "service.wsgi:app"
    assert list((tmp_path / "metrics").iterdir()) == []


def test_workers_keep_their_heartbeat_in_memory_where_the_system_has_it(monkeypatch,
                                                                         tmp_path):
    """gunicorn's heartbeat (an fchmod between requests) must not wait on a disk journal."""
    monkeypatch.setattr(cli, "SHARED_MEMORY", str(tmp_path))
    args = cli.gunicorn_args("127.0.0.1", 8080, 2)
    assert args[args.index("--worker-tmp-dir") + 1] == str(tmp_path)
    monkeypatch.setattr(cli, "SHARED_MEMORY", str(tmp_path / "missing"))
    assert "--worker-tmp-dir" not in cli.gunicorn_args("127.0.0.1", 8080, 2)


def test_serve_starts_two_workers_per_core_unless_told(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cli.os, "execv", lambda exe, argv: calls.append(argv))
    monkeypatch.setattr(cli.os, "sched_getaffinity", lambda _pid: {0, 1, 2})
    monkeypatch.delenv("WORKERS", raising=False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    result = run(cli.serve, env={"VAR_DIR": str(tmp_path / "var"),
                                 "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"})
    assert result.exit_code == 0, result.output
    assert calls[0][calls[0].index("--workers") + 1] == "6"


def test_gunicorn_can_take_over_a_socket_already_listening():
    args = cli.gunicorn_args("127.0.0.1", 8080, 2, control_socket=False, fd=7)
    assert args[args.index("--bind") + 1] == "fd://7"
    assert cli.gunicorn_args("127.0.0.1", 8080, 2)[1] == "127.0.0.1:8080"


def test_commands_are_reachable_from_the_engine_cli(url):
    from engine.cli import main

    result = CliRunner().invoke(main, ["db", "upgrade", "--database-url", url])
    if result.exit_code != 0 and "No such command" in result.output:
        pytest.skip("rehab-rules is not pip-installed here, so its entry points are absent")
    assert result.exit_code == 0, result.output


def test_publish_list_show_activate(url, policies_dir):
    from tests.service.test_admin import add_policy

    run(cli.db, "upgrade", "--database-url", url)
    first = run(cli.publish, str(policies_dir), "--note", "r1", "--database-url", url)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("bundle 1 active: 2 files and 0 fixture files, sha256:")
    again = run(cli.publish, str(policies_dir), "--database-url", url)
    assert "bundle 1 active" in again.output and "already published" in again.output
    add_policy(policies_dir)
    staged = run(cli.publish, str(policies_dir), "--no-activate", "--database-url", url)
    assert staged.output.startswith("bundle 2 stored")
    listed = run(cli.bundles, "list", "--database-url", url).output
    assert listed.splitlines()[0].startswith(" 2\t") and listed.splitlines()[1].startswith("*1\t")
    assert "r1" in listed and "activation 2: bundle 1" in listed
    shown = run(cli.bundles, "show", "2", "--database-url", url).output
    assert "other/2025-01.yaml" in shown
    assert run(cli.bundles, "activate", "2", "--database-url", url).exit_code == 0
    assert run(cli.bundles, "list", "--database-url", url).output.startswith("*2\t")
    missing = run(cli.bundles, "activate", "7", "--database-url", url)
    assert missing.exit_code == 1 and "no bundle 7" in missing.output


def test_a_bundle_id_past_the_integer_range_is_answered_in_words(url, policies_dir):
    """Was an OverflowError traceback (issue 21)."""
    run(cli.db, "upgrade", "--database-url", url)
    run(cli.publish, str(policies_dir), "--database-url", url)
    for command in ("show", "activate"):
        for bundle_id in ("9223372036854775808", "2147483648", "0"):
            result = run(cli.bundles, command, bundle_id, "--database-url", url)
            assert result.exit_code == 1, result.output
            assert f"no bundle {bundle_id}" in result.output
            assert "Traceback" not in result.output and result.exception is not None
            assert isinstance(result.exception, SystemExit)
    too_many = run(cli.impact, "tiny", "--version", "2025-01", "--limit", str(2**63),
                   "--database-url", url)
    assert too_many.exit_code == 2 and "--limit" in too_many.output


def test_publish_refuses_a_broken_folder_with_every_problem(url, policies_dir):
    run(cli.db, "upgrade", "--database-url", url)
    (policies_dir / "tiny" / "latest.yaml").write_text("x: 1\n")
    (policies_dir / "tiny" / "2025-01.yaml").write_text("policy: [\n")
    result = run(cli.publish, str(policies_dir), "--database-url", url)
    assert result.exit_code == 1
    assert "2025-01.yaml:2: not valid YAML" in result.output
    assert "latest.yaml:1: version file 'latest' is not named for its date" in result.output
    assert "nothing published" in result.output
    assert "bundle" not in run(cli.bundles, "list", "--database-url", url).output


# --- impact and fixtures from-log --------------------------------------------------------

HETU_RULE = """\
  - id: TS-4-bad-code
    action: day
    when: client is present and not valid_hetu(client)
    effect: deny
    cite: {seed: "000", section: "4"}
    message: {fi: "Virheellinen tunnus", sv: "Ogiltig beteckning", en: "Invalid code"}
"""


@pytest.fixture
def logged(tmp_path, sqlite_url):
    """A policy folder whose 2025-01 also refuses an invalid personal code, and a SQLite log
    of decisions made under it: (policies folder, url, decision ids)."""
    from tests.service.conftest import (
        HETU,
        VERSION_1,
        Tokens,
        decision_body,
        make_app,
        write_policies,
    )

    root = write_policies(tmp_path / "policies")
    (root / "tiny" / "2025-01.yaml").write_text(VERSION_1 + HETU_RULE, encoding="utf-8")
    url = sqlite_url
    app = make_app(root, url, tmp_path / "var")
    client, tokens = app.test_client(), Tokens(app.extensions["rehab_rules"].tokens)
    ids = [client.post("/v1/decisions", json=decision_body(facts=facts),
                       headers=tokens["provider"]).get_json()["decision_id"]
           for facts in ({"hours": 5.5}, {"hours": 7, "client": HETU},
                         {"hours": 7, "client": "131052-308X"}, {"hours": 8})]
    return root, url, ids


def _draft(tmp_path, root, old: str, new: str):
    import shutil

    draft = tmp_path / "draft"
    shutil.copytree(root, draft)
    target = draft / "tiny" / "2025-01.yaml"
    target.write_text(target.read_text().replace(old, new), encoding="utf-8")
    return draft


def test_impact_of_a_draft_folder(logged, tmp_path):
    import json

    root, url, ids = logged
    draft = _draft(tmp_path, root, "min_hours: 6", "min_hours: 5")
    result = run(cli.impact, "tiny", "--draft", str(draft), "--database-url", url)
    assert result.exit_code == 0, result.output
    assert "4 logged decision(s) read: 4 replayed, 3 unchanged, 1 changed, 0 not " \
           "replayable" in result.output
    assert "deny → allow: 1" in result.output and ids[0] in result.output
    assert "TS-1-too-short: no longer fires in 1" in result.output
    as_json = json.loads(run(cli.impact, "tiny", "--draft", str(draft), "--json",
                             "--database-url", url).output)
    assert as_json["changed"]["deny_to_allow"] == 1 and as_json["draft"]["source"] == str(draft)
    # the personal codes were judged as before: valid stays allowed, invalid stays denied
    assert as_json["unchanged"] == 3


def test_impact_pinned_to_a_version_of_the_running_set(logged):
    url = logged[1]
    result = run(cli.impact, "tiny", "--version", "2025-06", "--json", "--database-url", url)
    assert result.exit_code == 0, result.output
    import json

    report = json.loads(result.output)
    # 2025-06: 5 h minimum, no TS-4: 5.5 h allowed, the invalid code no longer denied
    assert report["changed"]["deny_to_allow"] == 2
    assert report["rules"]["TS-4-bad-code"]["no_longer_fires"] == 1


def test_impact_refuses_a_broken_draft_and_a_missing_choice(logged, tmp_path):
    root, url, _ = logged
    draft = _draft(tmp_path, root, "min_hours: 6", "min_hours: [")
    result = run(cli.impact, "tiny", "--draft", str(draft), "--database-url", url)
    assert result.exit_code == 1
    assert f"{draft / 'tiny' / '2025-01.yaml'}:" in result.output
    assert "nothing replayed" in result.output
    assert run(cli.impact, "tiny", "--database-url", url).exit_code == 2
    assert run(cli.impact, "tiny", "--version", "2025-01", "--since", "yesterday",
               "--database-url", url).exit_code == 2


def test_from_log_round_trips_a_decision_with_a_personal_code(logged, tmp_path):
    import yaml

    from tests.service.conftest import HETU

    root, url, ids = logged
    fixtures = tmp_path / "fixtures"
    for decision_id in ids[1:3]:
        result = run(cli.fixtures_from_log, decision_id, "--policies", str(root),
                     "--fixtures", str(fixtures), "--database-url", url)
        assert result.exit_code == 0, result.output
        assert "the case passes under tiny 2025-01" in result.output
    written = fixtures / "tiny" / "2025-01" / "day.yaml"
    text = written.read_text()
    assert HETU not in text and "131052-308X" not in text and "hetu#" not in text
    cases = yaml.safe_load(text)["cases"]
    from engine.personal import valid_hetu

    assert [valid_hetu(c["facts"]["client"]) for c in cases] == [True, False]
    assert cases[1]["expect"] == {"outcome": "deny", "fired": ["TS-4-bad-code"]}
    assert cases[0]["name"] == f"from log {ids[1]}" and cases[0]["lang"] == "fi"
    # and the engine's own runner agrees
    from engine.cli import main

    checked = CliRunner().invoke(main, ["test", str(fixtures), "--policies", str(root)])
    assert checked.exit_code == 0 and "2 passed, 0 failed" in checked.output


def test_publish_carries_the_cases_and_refuses_a_failing_one(url, policies_dir, tmp_path):
    from tests.service.conftest import write_cases

    run(cli.db, "upgrade", "--database-url", url)
    fixtures = write_cases(tmp_path / "cases")
    failing = fixtures / "tiny" / "2025-06" / "day.yaml"
    failing.write_text(failing.read_text().replace("{outcome: allow, fired: [TS-3-long]}",
                                                   "{outcome: deny, fired: [TS-3-long]}"))
    refused = run(cli.publish, str(policies_dir), "--fixtures", str(fixtures),
                  "--database-url", url)
    assert refused.exit_code == 1
    assert f"{failing}:7: case 'a long day' (day) fails: outcome: expected deny, got " \
           "allow" in refused.output
    assert "nothing published" in refused.output
    assert run(cli.bundles, "list", "--database-url", url).output == ""
    write_cases(fixtures)                 # the case as it was: it passes
    published = run(cli.publish, str(policies_dir), "--fixtures", str(fixtures),
                    "--database-url", url)
    assert published.exit_code == 0, published.output
    assert published.output.startswith("bundle 1 active: 2 files and 2 fixture files")
    shown = run(cli.bundles, "show", "1", "--database-url", url).output
    assert "fixtures/tiny/2025-06/day.yaml" in shown


def test_from_log_refuses_a_name_a_case_already_has(logged, tmp_path):
    """On disk or in the active bundle's cases, a taken name is refused and nothing
    written; the default name of a decision written once is taken the second time."""
    from service.bundles import BundleStore
    from service.database import make_engine
    from tests.service.conftest import write_cases, write_policies

    root, url, ids = logged
    fixtures = tmp_path / "fixtures"
    first = run(cli.fixtures_from_log, ids[3], "--policies", str(root), "--fixtures",
                str(fixtures), "--database-url", url)
    assert first.exit_code == 0, first.output
    written = fixtures / "tiny" / "2025-01" / "day.yaml"
    before = written.read_text()
    again = run(cli.fixtures_from_log, ids[3], "--policies", str(root), "--fixtures",
                str(fixtures), "--database-url", url)
    assert again.exit_code == 1
    assert f"already named 'from log {ids[3]}' ({written}:" in again.output
    assert "choose another name with --name" in again.output
    assert written.read_text() == before
    # a name only the published cases have (the bundle's, not this folder's) is taken too
    cases = write_cases(tmp_path / "published")
    BundleStore(make_engine(url)).publish_folder(write_policies(tmp_path / "plain"),
                                                 by="test", fixtures=cases)
    clash = run(cli.fixtures_from_log, ids[0], "--name", "a short day", "--policies",
                str(root), "--fixtures", str(tmp_path / "empty"), "--database-url", url)
    assert clash.exit_code == 1
    assert "already named 'a short day' (fixtures/tiny/2025-01/day.yaml:2)" in clash.output
    assert not (tmp_path / "empty").exists()
    fine = run(cli.fixtures_from_log, ids[0], "--name", "a short day from the log",
               "--policies", str(root), "--fixtures", str(tmp_path / "empty"),
               "--database-url", url)
    assert fine.exit_code == 0, fine.output


def test_from_log_says_when_the_case_would_not_pass(logged, tmp_path):
    root, url, ids = logged
    changed = _draft(tmp_path, root, "min_hours: 6", "min_hours: 5")
    result = run(cli.fixtures_from_log, ids[0], "--name", "short day", "--policies",
                 str(changed), "--fixtures", str(tmp_path / "fx"), "--database-url", url)
    assert result.exit_code == 1
    assert "not the file that decided" in result.output
    assert "the new case FAILS" in result.output and "outcome: expected deny" in result.output
    assert run(cli.fixtures_from_log, "01900000-0000-7000-8000-000000000000",
               "--database-url", url).exit_code == 1
