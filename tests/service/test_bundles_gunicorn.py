"""Policy bundles with real gunicorn servers: every worker of every instance follows the
active bundle in the database, rolls back with it, and a crashed worker comes back serving
the published bundle, never the files on disk.

Each test starts its own servers (two sync workers each) on free ports and stops every
process it started in ``finally``. Nothing here asserts on elapsed time: the loops poll
until what is expected shows up, within a generous deadline, on a loaded machine.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from service.bundles import BundleStore
from service.cli import gunicorn_args
from service.database import make_engine
from service.metrics import multiprocess_environment
from service.tokens import TokenStore
from tests.service.conftest import _clean, decision_body
from tests.service.test_admin import add_policy
from tests.service.test_gunicorn import ROOT, call, listener

pytestmark = pytest.mark.slow

CLI = Path(sys.executable).with_name("rehab-rules")
START_SECONDS = 60          # a worker imports Flask and compiles rules: slow when loaded
FOLLOW_SECONDS = 60         # BUNDLE_CHECK_SECONDS is 1; this is only the give-up bound
BROKEN = "policy: [\n"


# --- processes ----------------------------------------------------------------------------

@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    log: IO[bytes]

    def log_text(self, tail: int = 4000) -> str:
        """The end of the server's log (``tail=0``: all of it)."""
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-tail:]


def start_server(name: str, url: str, policies: Path, var: Path, tmp_path: Path,
                 **settings: str) -> Server:
    """A gunicorn master with two workers; returns at once (see :func:`wait_up`)."""
    sock = listener()
    port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": url, "POLICIES_DIR": str(policies),
           "VAR_DIR": str(var), "REHAB_RULES_HASH_KEY": "k", "PYTHONPATH": str(ROOT),
           **settings}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)       # each instance counts in its own VAR_DIR
    env.update(multiprocess_environment(var, env))
    log_path = tmp_path / f"gunicorn-{name}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn",
                             *gunicorn_args("127.0.0.1", port, 2, control_socket=False,
                                            fd=sock.fileno())],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            pass_fds=[sock.fileno()])
    sock.close()                                    # gunicorn listens on its own copy
    return Server(name, port, proc, log_path, log)


def wait_up(server: Server) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            if call(server.port, "GET", "/v1/health")[0] == 200:
                return
        except OSError:
            pass
        assert server.proc.poll() is None, f"{server.name} exited:\n{server.log_text()}"
        assert time.monotonic() < deadline, f"{server.name} did not start:\n{server.log_text()}"
        time.sleep(0.2)


def stop(server: Server) -> None:
    """Terminate the master (it stops its workers), kill it if it does not go."""
    try:
        if server.proc.poll() is None:
            server.proc.terminate()
            try:
                server.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(timeout=30)
    finally:
        server.log.close()


def stop_all(servers: list[Server]) -> None:
    errors = []
    for server in servers:
        try:
            stop(server)
        except Exception as exc:       # stop the others all the same
            errors.append(exc)
    if errors:
        raise errors[0]


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run([str(CLI), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def cli_publish(url: str, folder: Path, *args: str) -> int:
    """Publish with the CLI; the new bundle's id."""
    result = cli(url, "publish", str(folder), *args)
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"bundle (\d+) active: ", result.stdout)
    assert match, result.stdout
    return int(match.group(1))


# --- asking every worker ----------------------------------------------------------------

def health_batch(port: int, n: int = 10) -> list[tuple[int, Any]]:
    """``n`` concurrent health checks, so that both sync workers answer some."""
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: call(port, "GET", "/v1/health"), range(n)))


def wait_for_bundle(servers: list[Server], bundle_id: int, digest: str, policies: int,
                    workers: int = 2) -> dict[str, set[int]]:
    """Poll until, on every server, ``workers`` distinct workers have answered with this
    bundle and a whole batch of answers shows nothing else; the workers seen, per server."""
    seen: dict[str, set[int]] = {s.name: set() for s in servers}
    last: dict[str, Any] = {}
    deadline = time.monotonic() + FOLLOW_SECONDS
    while True:
        done = True
        for server in servers:
            answers = health_batch(server.port)
            assert all(status == 200 for status, _ in answers), answers
            bundles = [body["bundle"] for _, body in answers]
            seen[server.name] |= {b["worker"] for b in bundles if b["digest"] == digest}
            settled = all(b["digest"] == digest and b["serving"] == b["active"] == bundle_id
                          for b in bundles)
            done = done and settled and len(seen[server.name]) >= workers
            last[server.name] = answers
        if done:
            for answers in last.values():
                assert all(body["status"] == "ok" and body["bundle"]["error"] is None
                           and body["policies"] == policies for _, body in answers), answers
            return seen
        for server in servers:
            assert server.proc.poll() is None, f"{server.name} exited:\n{server.log_text()}"
        assert time.monotonic() < deadline, \
            f"not every worker serves bundle {bundle_id} {digest}: seen {seen}, last {last}"
        time.sleep(0.3)


def assert_still_serving(servers: list[Server], bundle_id: int, digest: str) -> None:
    """Several check intervals later, every answer still shows this bundle."""
    time.sleep(2.5)                      # > BUNDLE_CHECK_SECONDS: a switch would show now
    for server in servers:
        for _ in range(3):
            for status, body in health_batch(server.port):
                assert status == 200, body
                assert body["bundle"]["digest"] == digest, body
                assert body["bundle"]["serving"] == body["bundle"]["active"] == bundle_id


# --- the shared scenario ------------------------------------------------------------------

def publish_follow_and_roll_back(url: str, policies: Path, tmp_path: Path,
                                 via_reload: bool) -> None:
    """Two instances on one database, each with its own VAR_DIR: a new bundle reaches every
    worker of both, activating the old one brings it back everywhere, and a broken folder is
    refused at publish with nothing changing anywhere."""
    bundles = BundleStore(make_engine(url))
    first = cli_publish(url, policies, "--note", "first")
    first_digest = bundles.get(first).digest
    planner = TokenStore(make_engine(url)).create("planner")[0]

    servers: list[Server] = []
    try:
        for name in ("a", "b"):
            servers.append(start_server(name, url, policies, tmp_path / name, tmp_path,
                                        POLICIES_BOOTSTRAP="0", BUNDLE_CHECK_SECONDS="1"))
        for server in servers:
            wait_up(server)
        a = servers[0]
        wait_for_bundle(servers, first, first_digest, policies=1)

        # a second set, with one more policy, published on instance A or with the CLI
        add_policy(policies)
        if via_reload:
            status, body = call(a.port, "POST", "/v1/admin/reload", token=planner)
            assert status == 200, body
            assert [p["policy"] for p in body["policies"]] == ["other", "tiny"]
            second = body["bundle"]["serving"]
        else:
            second = cli_publish(url, policies, "--note", "second")
        assert second != first
        second_digest = bundles.get(second).digest
        assert second_digest != first_digest
        assert bundles.active().bundle_id == second
        wait_for_bundle(servers, second, second_digest, policies=2)

        # roll back: activate the first bundle again; every worker of both goes back
        result = cli(url, "bundles", "activate", str(first))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"bundle {first} active" in result.stdout
        wait_for_bundle(servers, first, first_digest, policies=1)
        listing = cli(url, "bundles", "list")
        assert listing.returncode == 0, listing.stderr
        assert re.search(rf"^\*{first}\t", listing.stdout, re.M), listing.stdout

        # a broken folder is refused at publish, with file:line, and nothing changes
        count, activation = bundles.count(), bundles.active()
        broken = tmp_path / "broken"
        shutil.copytree(policies, broken)
        (broken / "other" / "2025-01.yaml").write_text(BROKEN, encoding="utf-8")
        result = cli(url, "publish", str(broken))
        assert result.returncode == 1, result.stdout + result.stderr
        assert re.search(r"other/2025-01\.yaml:\d+: ", result.stdout), result.stdout
        assert "nothing published" in result.stderr
        # ... and so is POST /v1/admin/reload of the same breakage in POLICIES_DIR
        (policies / "other" / "2025-01.yaml").write_text(BROKEN, encoding="utf-8")
        status, body = call(a.port, "POST", "/v1/admin/reload", token=planner)
        assert status == 422, body
        problems = body["error"]["details"]["problems"]
        assert problems and all(p["line"] > 0 for p in problems), problems
        assert any(p["path"].endswith("other/2025-01.yaml") for p in problems), problems
        assert bundles.count() == count
        assert bundles.active() == activation
        assert_still_serving(servers, first, first_digest)
    finally:
        stop_all(servers)


# --- the tests ----------------------------------------------------------------------------

@pytest.mark.postgres
def test_two_instances_on_postgresql_follow_publish_and_roll_back(
        postgres_url, policies_dir, tmp_path):
    _clean(postgres_url)
    publish_follow_and_roll_back(postgres_url, policies_dir, tmp_path, via_reload=True)


def test_two_instances_on_one_sqlite_file_follow_publish_and_roll_back(
        sqlite_url, policies_dir, tmp_path):
    publish_follow_and_roll_back(sqlite_url, policies_dir, tmp_path, via_reload=False)


def test_a_killed_worker_comes_back_with_the_published_bundle_not_the_broken_disk(
        sqlite_url, policies_dir, tmp_path):
    bundles = BundleStore(make_engine(sqlite_url))
    server = start_server("one", sqlite_url, policies_dir, tmp_path / "var", tmp_path,
                          POLICIES_BOOTSTRAP="1", BUNDLE_CHECK_SECONDS="1")
    try:
        wait_up(server)
        active = bundles.active()
        assert active is not None and bundles.count() == 1      # published at boot
        digest = bundles.get(active.bundle_id).digest
        workers = wait_for_bundle([server], active.bundle_id, digest, policies=1)["one"]
        assert len(workers) == 2, workers

        # the files on disk break; then a worker dies without a word
        (policies_dir / "tiny" / "2025-01.yaml").write_text(BROKEN, encoding="utf-8")
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)

        # gunicorn starts a replacement, which loads the active bundle from the database
        deadline = time.monotonic() + START_SECONDS
        answered: set[int] = set()
        while True:
            try:
                answers = health_batch(server.port)
            except OSError:             # a connection the dying worker had taken
                answers = []
            for status, body in answers:
                assert status == 200, body
                assert body["status"] == "ok" and body["policies"] == 1, body
                assert body["bundle"]["digest"] == digest, body
                assert body["bundle"]["error"] is None, body
                answered.add(body["bundle"]["worker"])
            if answered - workers and answered & (workers - {victim}):
                break                   # the replacement and the survivor both answered
            assert server.proc.poll() is None, server.log_text()
            assert time.monotonic() < deadline, \
                f"no replacement worker answered: {answered}\n{server.log_text()}"
            time.sleep(0.3)
        assert victim not in answered, "the killed worker answered"

        # both workers, the survivor and the replacement, serve the same bundle
        seen = wait_for_bundle([server], active.bundle_id, digest, policies=1)["one"]
        assert victim not in seen and len(seen) == 2 and seen - workers, seen

        # decisions still work, on the replacement too (each worker logs its decisions
        # with its pid), and nothing was published from the broken disk
        provider = TokenStore(make_engine(sqlite_url)).create("provider", "1234567-1")[0]
        replacement = re.compile(rf"^\S+ \S+ ({'|'.join(map(str, seen - workers))}) INFO "
                                 r"service\.decisions: decision ", re.M)
        deadline = time.monotonic() + FOLLOW_SECONDS
        while True:
            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(
                    lambda _: call(server.port, "POST", "/v1/decisions", decision_body(),
                                   provider), range(16)))
            assert all(status == 200 and body["outcome"] == "deny"
                       for status, body in results), results
            if replacement.search(server.log_text(0)):
                break
            assert time.monotonic() < deadline, \
                f"the replacement worker logged no decision:\n{server.log_text()}"
            time.sleep(0.3)
        assert bundles.count() == 1
        assert bundles.active().bundle_id == active.bundle_id
    finally:
        stop(server)
