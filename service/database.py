"""Connecting to the database and bringing its schema to head with Alembic.

SQLite (the default) is put in WAL mode with a busy timeout, so several gunicorn workers on
one host can write the log at once; PostgreSQL (``postgresql+psycopg://``) is for several
hosts. The schema only ever changes through the migrations in ``service/migrations``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from service.errors import DatabaseNotReady

__all__ = ["CONNECT_TIMEOUT_SECONDS", "alembic_config", "check_at_head", "make_engine",
           "upgrade"]

_MIGRATIONS = str(Path(__file__).with_name("migrations"))
# how long a new PostgreSQL connection may take before it counts as the database being away
CONNECT_TIMEOUT_SECONDS = 5


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file gets its folder, WAL and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A database that cannot be reached must be an error within seconds, not a worker
        # stuck in connect() for the kernel's minutes: the request answers 503 and the next
        # one tries again (pre-ping replaces the pool's dead connections once it is back).
        connect_args = ({"connect_timeout": CONNECT_TIMEOUT_SECONDS}
                        if parsed.get_backend_name() == "postgresql"
                        and "connect_timeout" not in parsed.query else {})
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                             connect_args=connect_args)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets readers run beside the one writer; NORMAL sync is safe in WAL mode."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs this package's migrations on ``engine``."""
    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    config.attributes["engine"] = engine
    return config


def check_at_head(engine: Engine) -> None:
    """Refuse to serve on a database the migrations have not reached: better a worker that
    does not boot, saying why, than a 500 on every decision."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        raise DatabaseNotReady(
            f"the database {engine.url.render_as_string(hide_password=True)} is at migration "
            f"{current or 'none'}, not {head}: run 'rehab-rules db upgrade'",
            {"current": current, "head": head})


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (``rehab-rules db upgrade``)."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    command.upgrade(alembic_config(engine), revision)
