"""SQL that differs by backend, in one place: the rest of kancha reads the same on both."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert(session: AsyncSession, model: Any):
    """A Core INSERT into a model's table with the backend's ON CONFLICT clauses (both
    SQLite and PostgreSQL spell them the same way once built).

    Core rather than ORM: these rows are written, never loaded as objects here, so the
    ORM's per-object bookkeeping would be pure overhead.
    """
    table = getattr(model, "__table__", model)
    return (postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert)(
        table
    )
