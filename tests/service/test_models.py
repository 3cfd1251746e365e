"""The models against the migrated database (service/models.py, service/migrations).

The tables are declared once, in the models; the migrations are their history. Alembic's
own comparison (the one ``alembic revision --autogenerate`` uses) of a database brought to
head with every column's type, nullability and server default, every index and every
constraint, on SQLite and on PostgreSQL, must find nothing to do.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData

from service.database import make_engine
from service.models import Base

OPTIONS = {"compare_type": True, "compare_server_default": True}


def differences(url: str, metadata: MetaData) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts=OPTIONS), metadata)
    finally:
        engine.dispose()


def test_the_migrated_database_is_the_models(any_db_url):
    assert {t.name for t in Base.metadata.sorted_tables} == {
        "decisions", "tokens", "policy_bundles", "bundle_activations", "idempotency_keys"}
    assert differences(any_db_url, Base.metadata) == []


def test_a_model_the_migrations_do_not_make_is_found(sqlite_url):
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["decisions"].append_column(Column("new_column", Integer))
    found = differences(sqlite_url, changed)
    assert [(d[0], d[3].name) for d in found] == [("add_column", "new_column")]
