"""Migrations and table models agree, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import media.models  # noqa: F401  (registers media tables)
from cases.models import Base
from server.db import Database


async def test_migrated_schema_matches_the_models(database_url):
    database = Database(database_url)

    def diff(sync_conn):
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    try:
        async with database.engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await database.dispose()
    assert differences == []
