"""The service's commands for the ``rehab-rules`` CLI: ``db``, ``tokens`` and ``serve``.

The engine's CLI finds them through the ``rehab_rules.commands`` entry points, so the engine
itself never imports Flask or SQLAlchemy.
"""

from __future__ import annotations

import os
import sys

import click
from sqlalchemy.engine import make_url

from service.config import load_config
from service.database import make_engine, upgrade
from service.metrics import multiprocess_environment
from service.tokens import ROLES, TokenStore

__all__ = ["db", "serve", "tokens"]

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
        token, principal = TokenStore(make_engine(database_url)).create(role, provider_id, name)
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


@click.command()
@click.option("--host", envvar="HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="PORT", default=8080, type=int, show_default=True)
@click.option("--workers", envvar="WORKERS", default=2, type=int, show_default=True,
              help="sync worker processes; about one per core")
def serve(host: str, port: int, workers: int) -> None:
    """Run the API under gunicorn with sync workers (the engine scales by processes)."""
    base = f"http://{host}:{port}"
    click.echo(f"rehab-rules on {base}  (docs {base}/docs, spec {base}/openapi.json)")
    click.echo("a token: rehab-rules tokens create --role provider --provider-id 1234567-1")
    sys.stdout.flush()
    os.environ.update(multiprocess_environment(load_config()["VAR_DIR"]))
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", *gunicorn_args(host, port,
                                                                               workers)])


def gunicorn_args(host: str, port: int, workers: int, control_socket: bool = True) -> list[str]:
    """The gunicorn command line of ``serve``; the tests and the bench start throw-away
    servers without gunicorn's control socket, whose default path is one per user. Whoever
    runs it also passes :func:`service.metrics.multiprocess_environment`, so that
    ``/metrics`` adds up every worker's counts."""
    args = ["--bind", f"{host}:{port}", "--workers", str(workers), "--worker-class", "sync",
            "--logger-class", "service.gunicorn_logging.ScrubbingLogger"]
    if not control_socket:
        args.append("--no-control-socket")
    if os.environ.get("ACCESS_LOG"):
        args += ["--access-logfile", "-"]
    return [*args, "service.wsgi:app"]


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    return make_url(url).render_as_string(hide_password=True)
