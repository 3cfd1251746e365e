"""The service's commands for the ``rehab-rules`` CLI: ``db``, ``tokens``, ``serve``,
``publish``, ``bundles``, ``impact`` and ``fixtures from-log`` (the last two read the log).

The engine's CLI finds them through the ``rehab_rules.commands`` entry points, so the engine
itself never imports Flask or SQLAlchemy.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from marshmallow import ValidationError
from sqlalchemy.engine import make_url

from engine import EngineError, PolicyError, PolicyStore, Problem
from engine.fixtures import Case, CaseResult, append_cases, load_suite, run_case
from engine.folder import CASES_PREFIX, PolicyFiles, read_folder
from engine.model import LANGUAGES
from engine.pyeval import PythonEvaluator
from engine.replay import LoggedDecision, NotReplayable, fixture_case, render_report
from engine.store import load_files, with_cases
from service.bundles import BundleStore, cli_actor
from service.config import load_config
from service.database import check_at_head, make_engine, upgrade
from service.decision_log import DecisionLog
from service.errors import DatabaseNotReady, NotFound
from service.masking import masker_from_config
from service.metrics import multiprocess_environment
from service.replay import (
    BATCH,
    PARALLEL_MIN,
    draft_files,
    draft_store,
    logged_from_row,
    render_cases,
    run_impact,
)
from service.schemas import MAX_INTEGER, Instant
from service.tokens import ROLES, TokenStore

__all__ = [
    "SHARED_MEMORY",
    "bundles",
    "bundles_activate",
    "bundles_list",
    "bundles_show",
    "db",
    "db_upgrade",
    "default_workers",
    "fixtures_from_log",
    "gunicorn_args",
    "impact",
    "publish",
    "serve",
    "tokens",
    "tokens_create",
    "tokens_list",
    "tokens_revoke",
]

_URL = click.option("--database-url", envvar="DATABASE_URL", show_envvar=True,
                    default=lambda: load_config()["DATABASE_URL"],
                    help="SQLAlchemy URL of the decision log.")


@click.group()
def db() -> None:
    """The decision-log database."""


@db.command("upgrade")
@_URL
def db_upgrade(database_url: str) -> None:
    """Create or migrate the tables (Alembic, to head)."""
    upgrade(database_url)
    click.echo(f"database at head: {_safe(database_url)}")


@click.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path),
              default=lambda: load_config()["POLICIES_DIR"])
@click.option("--note", help="why: the service description revision, the ticket …")
@click.option("--no-activate", "stage", is_flag=True,
              help="store the bundle only; activate it later with 'bundles activate'")
@click.option("--fixtures", "fixtures_root", type=click.Path(path_type=Path),
              help="the fixture cases published with the policies; default: the fixtures "
                   "folder beside FOLDER")
@_URL
def publish(folder: Path, note: str | None, stage: bool, fixtures_root: Path | None,
            database_url: str) -> None:
    """Check a policy folder and its fixture cases and publish them as the live bundle of
    every worker.

    The folder is checked as 'rehab-rules check' does, with the cases of its fixtures folder,
    which the bundle carries: any problem — a file that does not load, a case that fails, a
    rule no case covers — is printed as file:line and nothing is published (exit 1).
    Publishing files already stored reuses that bundle.
    """
    store = _bundles(database_url)
    try:
        bundle, created = store.publish_folder(folder, by=cli_actor(), note=note,
                                               activate=not stage, fixtures=fixtures_root)
    except PolicyError as exc:
        for p in exc.problems:
            click.echo(str(p))
        click.echo(f"{len(exc.problems)} problem(s); nothing published", err=True)
        sys.exit(1)
    state = "stored" if stage else "active"
    cases = sum(name.startswith(CASES_PREFIX) for name in bundle.files)
    click.echo(f"bundle {bundle.id} {state}: {len(bundle.files) - cases} files and {cases} "
               f"fixture files, {bundle.digest}"
               + ("" if created else " (the same files were already published)"))


@click.group()
def bundles() -> None:
    """Published policy bundles: list, show, activate (roll back or forward)."""


@bundles.command("list")
@_URL
def bundles_list(database_url: str) -> None:
    """Every bundle, newest first; * marks the live one. Then which was live when."""
    store = BundleStore(make_engine(database_url))
    active = store.active()
    for b in store.list():
        mark = "*" if active and active.bundle_id == b.id else " "
        click.echo("\t".join([f"{mark}{b.id}", b.published_at.isoformat(timespec="seconds"),
                              b.published_by, f"{len(b.files)} files", b.digest[:19],
                              b.note or "-"]))
    for a in store.activations(20):
        click.echo(f"activation {a.id}: bundle {a.bundle_id} at "
                   f"{a.activated_at.isoformat(timespec='seconds')} by {a.activated_by}")


@bundles.command("show")
@click.argument("bundle_id", type=int)
@_URL
def bundles_show(bundle_id: int, database_url: str) -> None:
    """One bundle: who, when, note, digest and files."""
    try:
        b = BundleStore(make_engine(database_url)).get(bundle_id)
    except NotFound as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"bundle {b.id}  {b.digest}\npublished {b.published_at.isoformat()} by "
               f"{b.published_by} from {b.source}\nnote: {b.note or '-'}")
    for name in b.files:
        click.echo(f"  {name}")


@bundles.command("activate")
@click.argument("bundle_id", type=int)
@_URL
def bundles_activate(bundle_id: int, database_url: str) -> None:
    """Make BUNDLE_ID the live bundle of every worker on every host."""
    try:
        a = _bundles(database_url).activate(bundle_id, by=cli_actor())
    except NotFound as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"bundle {a.bundle_id} active (activation {a.id}); workers follow within "
               f"{load_config()['BUNDLE_CHECK_SECONDS']} s")


@click.group()
def tokens() -> None:
    """API tokens: create (printed once), list, revoke."""


@tokens.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--provider-id", help="the provider's Y-tunnus (provider tokens only)")
@click.option("--name", help="who or what uses the token")
@_URL
def tokens_create(role: str, provider_id: str | None, name: str | None,
                  database_url: str) -> None:
    """Create a token and print it; only its hash is stored, so it cannot be shown again."""
    try:
        token, principal = _tokens(database_url).create(role, provider_id, name)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(token)
    click.echo(f"id {principal.token_id}, role {role}"
               + (f", provider {provider_id}" if provider_id else "")
               + "; store it now: it is not shown again", err=True)


@tokens.command("list")
@_URL
def tokens_list(database_url: str) -> None:
    """Every token: id, role, provider, name, created, revoked."""
    for row in TokenStore(make_engine(database_url)).list():
        revoked = row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else "-"
        click.echo("\t".join([row.id, row.role, row.provider_id or "-", row.name or "-",
                              row.created_at.isoformat(timespec="seconds"), revoked]))


@tokens.command("revoke")
@click.argument("token_id")
@_URL
def tokens_revoke(token_id: str, database_url: str) -> None:
    """Revoke the token with this id; workers stop accepting it within TOKEN_CACHE_SECONDS."""
    if not TokenStore(make_engine(database_url)).revoke(token_id):
        raise click.ClickException(f"no live token with id {token_id!r}")
    click.echo(f"revoked {token_id}")


def default_workers() -> int:
    """Two sync workers per core this process may run on.

    A sync worker holds its request while it waits — for the database's commit (on
    PostgreSQL, the server's flush to disk), for the log's lock, or because the system ran
    something else — and with one worker per core the requests behind it waited too, while
    a core stood idle. Measured open loop at half the closed-loop capacity (issue 22, on
    2 cores, SQLite): decision p99 4.1 and 8.2 ms with four workers against 11.5 and
    11.0 ms with two; on PostgreSQL 9.3 against 110 ms. Each worker costs about 70 MB.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:              # not on Linux
        cores = os.cpu_count() or 1
    return 2 * cores


@click.command()
@click.option("--host", envvar="HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="PORT", default=8080, type=click.IntRange(0, 65535),
              show_default=True)
@click.option("--workers", envvar="WORKERS", default=lambda: default_workers(),
              type=click.IntRange(1, 256), show_default="two per core",
              help="sync worker processes")
def serve(host: str, port: int, workers: int) -> None:
    """Run the API under gunicorn with sync workers (the engine scales by processes)."""
    base = f"http://{host}:{port}"
    click.echo(f"rehab-rules on {base}  (docs {base}/docs, spec {base}/openapi.json)")
    click.echo("a token: rehab-rules tokens create --role provider --provider-id 1234567-1")
    sys.stdout.flush()
    config = load_config()
    os.environ.update(multiprocess_environment(config["VAR_DIR"]))
    _bootstrap(config)
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", *gunicorn_args(host, port,
                                                                               workers)])


def _bootstrap(config: dict) -> None:
    """Before the workers start: publish POLICIES_DIR if the database has no bundle yet
    (the default on SQLite), so that ``make run`` needs no publish step of its own."""
    engine = make_engine(config["DATABASE_URL"])
    bootstrap = config["POLICIES_BOOTSTRAP"]
    if bootstrap is None:
        bootstrap = engine.dialect.name == "sqlite"
    if not bootstrap:
        return
    try:
        check_at_head(engine)
    except DatabaseNotReady:
        return                        # each worker says so: run 'rehab-rules db upgrade'
    try:
        bundle = BundleStore(engine, masker_from_config(config)).bootstrap(
            config["POLICIES_DIR"], by=cli_actor(), fixtures=config.get("FIXTURES_DIR"))
    except PolicyError as exc:
        for p in exc.problems:
            click.echo(str(p), err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s) in "
                                   f"{config['POLICIES_DIR']}; nothing to serve") from None
    if bundle is not None:
        click.echo(f"published {config['POLICIES_DIR']} as bundle {bundle.id}")


# a memory-backed directory for the workers' heartbeat files, where the system has one
SHARED_MEMORY = "/dev/shm"


def gunicorn_args(host: str, port: int, workers: int, control_socket: bool = True,
                  fd: int | None = None) -> list[str]:
    """The gunicorn command line of ``serve``; the tests and the bench start throw-away
    servers without gunicorn's control socket, whose default path is one per user, and on
    a socket they already listen on (``fd``, passed to the child): a port chosen free and
    bound only later by gunicorn could be taken by another process in between. Whoever
    runs it also passes :func:`service.metrics.multiprocess_environment`, so that
    ``/metrics`` adds up every worker's counts."""
    bind = f"fd://{fd}" if fd is not None else f"{host}:{port}"
    args = ["--bind", bind, "--workers", str(workers), "--worker-class", "sync",
            "--logger-class", "service.gunicorn_logging.ScrubbingLogger"]
    if os.path.isdir(SHARED_MEMORY) and os.access(SHARED_MEMORY, os.W_OK | os.X_OK):
        # each worker tells the master it lives by os.fchmod on a file of its own, between
        # requests; in /tmp on a disk that call waits whenever the file system commits its
        # journal (SQLite's checkpoint syncs the log), and requests queue meanwhile —
        # gunicorn's documentation of worker_tmp_dir advises a memory-backed directory
        args += ["--worker-tmp-dir", SHARED_MEMORY]
    if not control_socket:
        args.append("--no-control-socket")
    if os.environ.get("ACCESS_LOG"):
        args += ["--access-logfile", "-"]
    return [*args, "service.wsgi:app"]


def _bundles(database_url: str) -> BundleStore:
    """The bundles, for writing: codes in stored texts are hashed with the service's key
    (``REHAB_RULES_HASH_KEY``, or the one in ``VAR_DIR``), as the workers hash them."""
    return BundleStore(make_engine(database_url), masker_from_config(load_config()))


def _tokens(database_url: str) -> TokenStore:
    return TokenStore(make_engine(database_url), masker=masker_from_config(load_config()))


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    return make_url(url).render_as_string(hide_password=True)


# -- impact of a draft, and a logged decision as a fixture case -----------------------------

def _instant(_ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """--since/--until as the API reads them: an ISO date or date-time, UTC if no offset."""
    if value is None:
        return None
    try:
        return Instant().deserialize(value)
    except ValidationError as exc:
        raise click.BadParameter(" ".join(exc.messages), param=param) from None


def _running_files(engine: Any, config: dict[str, Any]) -> PolicyFiles:
    """The set the service runs: the active bundle, or POLICIES_DIR before any is published."""
    bundles = BundleStore(engine, masker_from_config(config))
    active = bundles.active()
    if active is not None:
        return bundles.files(active.bundle_id)
    files, problems = read_folder(config["POLICIES_DIR"])
    files, found = with_cases(files, config.get("FIXTURES_DIR"))
    if problems or found:
        raise PolicyError(problems + found)
    return files


def _running_cases(engine: Any) -> dict[str, bytes]:
    """The fixture files of the running set; none when it cannot be read."""
    try:
        return _running_files(engine, load_config()).cases
    except PolicyError:
        return {}


def _impact_files(engine: Any, draft: Path | None) -> PolicyFiles:
    """The files a replay runs under: the draft folder laid over nothing else, validated
    whole (every problem printed, then exit 1), or without one the running set."""
    try:
        if draft is None:
            return _running_files(engine, load_config())
        files, problems = read_folder(draft)
        if problems:              # every problem at once, the files' own ones too
            raise PolicyError(problems + load_files(files)[2])
        # the draft is judged against the cases the running set was published with
        files = dataclasses.replace(files, cases=_running_cases(engine))
        return draft_files(files, {}, label=files.root)
    except PolicyError as exc:
        raise _refused(exc, "the draft; nothing replayed") from None


def _refused(exc: PolicyError, where: str, err: bool = False) -> click.ClickException:
    """Every problem printed, one a line; the exception that ends the command."""
    for p in exc.problems:
        click.echo(str(p), err=err)
    return click.ClickException(f"{len(exc.problems)} problem(s) in {where}")


def _replay_with_progress(log: DecisionLog, store: PolicyStore, policy: str,
                          **options: Any) -> dict[str, Any]:
    """:func:`service.replay.run_impact`, with a progress bar on a terminal when there is
    more than one batch to read, showing the rows replayed per second.

    Everything loaded before the replay (the draft's rules, the modules) is first kept out
    of the garbage collector's full passes (:func:`gc.freeze`): a replay makes a batch's
    objects by the thousand, and each full pass would walk all of it again (thawed after:
    a caller that goes on is as before)."""
    filters = {k: options[k] for k in ("action", "since", "until")}
    total = log.count(policy=policy, **filters)
    total = min(total, options["limit"]) if options["limit"] else total
    gc.freeze()
    try:
        if not (sys.stderr.isatty() and total > BATCH):
            return run_impact(log, store, policy, **options)
        with _progress_bar(total, sys.stderr) as bar:
            return run_impact(log, store, policy, progress=_rate_shown(bar.update),
                              **options)
    finally:
        gc.unfreeze()


def _progress_bar(total: int, file: Any) -> Any:
    """The replay's progress bar: the share done, the time left and the rows per second
    (the text :func:`_rate_shown` hands it)."""
    return click.progressbar(length=total, label=f"replaying {total:,} decisions",
                             file=file, item_show_func=lambda rate: rate)


def _rate_shown(update: Callable[[int, str], None],
                clock: Callable[[], float] = time.monotonic) -> Callable[[int], None]:
    """A ``progress`` callback for :func:`run_impact` that advances ``update`` (a progress
    bar's) by the rows of each batch and shows the rows per second since the first call."""
    start = clock()
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        rate = done / max(clock() - start, 1e-3)
        update(rows, f"{rate:,.0f} rows/s")

    return advance


@click.command()
@click.argument("policy")
@click.option("--draft", "draft", type=click.Path(exists=True, file_okay=False,
                                                   path_type=Path),
              help="a policies folder (validated, never published); default: the running set")
@click.option("--version", "version", metavar="VERSION",
              help="replay every decision pinned to this version (e.g. the draft's new one); "
                   "default: the version in force on each decision's dates")
@click.option("--since", callback=_instant, help="logged at or after (ISO date or date-time)")
@click.option("--until", callback=_instant, help="logged before (ISO date or date-time)")
@click.option("--action", help="only decisions of this action")
@click.option("--limit", type=click.IntRange(min=1, max=MAX_INTEGER),
              help="at most this many, newest first")
@click.option("--examples", type=click.IntRange(min=0, max=1000), default=5,
              show_default=True, help="decision ids kept per group and per rule")
@click.option("--lang", type=click.Choice(LANGUAGES),
              help="language of the examples' new messages (default: each decision's own)")
@click.option("--jobs", type=click.IntRange(min=1, max=256), default=os.cpu_count() or 1,
              show_default="the number of cores",
              help=f"worker processes replaying the log (fewer than {PARALLEL_MIN:,} "
                   "decisions are replayed in one); the report does not depend on it")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@_URL
def impact(policy: str, draft: Path | None, version: str | None, since: Any, until: Any,
           action: str | None, limit: int | None, examples: int, lang: str | None,
           jobs: int, as_json: bool, database_url: str) -> None:
    """Replay the logged decisions of POLICY under a draft: how many would change, and how.

    Each decision is decided again with its logged facts (personal codes as synthetic ones
    with the logged validity) under the draft's version in force on its dates, or pinned to
    --version; a logged what-if stays pinned to its own version. Decisions the draft cannot
    judge are counted and listed with the reason. Needs --draft or --version. A large log
    is replayed by --jobs worker processes, each with its own database connection.
    """
    if draft is None and version is None:
        raise click.UsageError("give --draft DIR (a policies folder), --version VERSION, "
                               "or both")
    engine = make_engine(database_url)
    files = _impact_files(engine, draft)
    try:
        store = draft_store(files, policy)
    except PolicyError as exc:
        raise _refused(exc, "the draft; nothing replayed") from None
    except EngineError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    try:
        report = _replay_with_progress(DecisionLog(engine), store, policy, version=version,
                                       since=since, until=until, action=action, limit=limit,
                                       examples=examples, lang=lang, jobs=jobs)
    finally:
        store.close()
    report["draft"] = {"source": str(draft) if draft else "running set",
                       "digest": files.digest}
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(f"impact on {policy} of {report['draft']['source']}"
               + (f", pinned to {version}" if version else ", by date"))
    click.echo(render_report(report))
    click.echo(render_cases(report))


@click.command("from-log")
@click.argument("decision_id")
@click.option("--name", help="the case's name (default: 'from log <decision id>')")
@click.option("--policies", "root", type=click.Path(path_type=Path), default=Path("policies"),
              show_default=True, help="the folder whose version the case must pass under")
@click.option("--fixtures", "fixtures_root", type=click.Path(path_type=Path),
              default=Path("fixtures"), show_default=True)
@_URL
def fixtures_from_log(decision_id: str, name: str | None, root: Path, fixtures_root: Path,
                      database_url: str) -> None:
    """Append a logged decision as a case to the fixtures of the version it was made under:
    its as_of, facts, outcome, fired rules, results and due dates. A personal code becomes a
    synthetic one with the same validity, never the real one. The case is run at once.

    A name that a case of that version and action already has — in the fixtures folder or
    in the cases the active bundle was published with, inherited ones too — is refused
    (exit 1, nothing written): choose another with --name."""
    engine = make_engine(database_url)
    row = DecisionLog(engine).stored(decision_id)
    if row is None:
        raise click.ClickException(f"no decision {decision_id!r} in the log")
    item = logged_from_row(row)
    try:
        entry = fixture_case(item, name)
    except NotReplayable as exc:
        raise click.ClickException(f"{exc.code}: {exc.reason}") from None
    try:
        store = PolicyStore.load(root, fixtures=fixtures_root)
    except PolicyError as exc:
        raise _refused(exc, str(root), err=True) from None
    try:
        taken = _case_named(store.cases(), item, entry["name"]) \
            or _case_named(_published_cases(engine), item, entry["name"])
        if taken is not None:
            raise click.ClickException(
                f"a {item.action} case of {item.policy} {item.version} is already named "
                f"{entry['name']!r} ({taken.where}); nothing written — choose another name "
                "with --name")
        if store.get_version(item.policy, item.version).digest != row["digest"]:
            click.echo(f"note: {root}/{item.policy}/{item.version}.yaml is not the file that "
                       "decided (its digest differs)", err=True)
        written, problems, result = _append_and_run(store, item, entry, fixtures_root)
    except EngineError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    finally:
        store.close()
    click.echo(f"wrote case {entry['name']!r} ({item.action}, as of {item.as_of}, "
               f"{item.outcome}) into {written}")
    for p in problems:
        click.echo(str(p))
    if result is None or not result.ok:
        for f in result.failures if result else ["the case was not read back"]:
            click.echo(f"     {f}")
        raise click.ClickException(f"the new case FAILS under {root}/{item.policy}/"
                                   f"{item.version}.yaml; see above")
    click.echo(f"the case passes under {item.policy} {item.version}")


def _case_named(cases: list[Case], item: LoggedDecision, name: str) -> Case | None:
    """The case of ``item``'s policy, version and action called ``name``, if any (one it
    inherits too: a case of the same name would silently take its place)."""
    return next((c for c in cases if (c.policy, c.version, c.action, c.name)
                 == (item.policy, item.version, item.action, name)), None)


def _published_cases(engine: Any) -> list[Case]:
    """The cases the active bundle was published with (none before any is published)."""
    bundles = BundleStore(engine)
    active = bundles.active()
    if active is None:
        return []
    store = PolicyStore.from_files(bundles.files(active.bundle_id), evaluator=PythonEvaluator())
    try:
        return store.cases()
    finally:
        store.close()


def _append_and_run(store: PolicyStore, item: LoggedDecision, entry: dict[str, Any],
                    fixtures_root: Path) -> tuple[Path, list[Problem], CaseResult | None]:
    """Append ``entry`` to the fixtures of the version that decided ``item``, read the file
    back and run the case as written: the file, its problems, and the case's result (None
    if it was not read back)."""
    path = fixtures_root / item.policy / item.version / f"{item.action}.yaml"
    written = append_cases(path, [entry], _FROM_LOG_NOTE.format(id=item.id))
    cases, problems = load_suite([written], store.policies)
    mine = [c for c in cases if c.name == entry["name"] and not c.inherited_from]
    return written, problems, run_case(store, mine[-1]) if mine else None


_FROM_LOG_NOTE = ("# Written by 'rehab-rules fixtures from-log {id}': what the service decided"
                  ",\n# personal codes replaced by synthetic ones with the same validity.\n")
