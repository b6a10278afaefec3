"""SQL that differs by backend, in one place: the rest of kancha reads the same on both."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


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


# SQLite's and PostgreSQL's limit on the parameters of one statement (SQLite >= 3.32).
_MAX_PARAMS = 32_000


async def insert_rows(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    skip_conflicts: bool = False,
    returning: str | None = None,
) -> list[Any]:
    """Insert `rows` (dicts with the same keys, every one a column of `table`) in as few
    statements as the backend takes, optionally skipping rows that hit a unique constraint;
    returns the `returning` column of the rows actually inserted (nothing without it).

    The hot path of a push writes a few thousand values per group. SQLAlchemy's
    executemany builds a parameter dict per row and calls a processor chain per value,
    which cost more than the insert itself; here the column types' own bind processors
    run once per value into one flat tuple, so what is stored is exactly what the ORM
    would store. Python-side column defaults are not applied: rows name every column
    that has one.
    """
    if not rows:
        return []
    dialect = conn.dialect
    columns = tuple(rows[0])
    processors = _processors(table, columns, dialect)
    out: list[Any] = []
    step = max(1, _MAX_PARAMS // len(columns))
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        params: list[Any] = []
        extend = params.extend
        for row in chunk:
            extend([p(row[c]) if p else row[c] for c, p in processors])
        sql = _statement(table, columns, len(chunk), dialect, skip_conflicts, returning)
        result = await conn.exec_driver_sql(sql, tuple(params))
        if returning is not None:
            out += [r[0] for r in result.fetchall()]
    return out


_Processors = list[tuple[str, Any]]
_plans: dict[tuple, _Processors] = {}


def _processors(table: Table, columns: tuple[str, ...], dialect: Any) -> _Processors:
    """Each column with its bind processor (None: taken as is), made once per shape."""
    key = (table, columns, dialect.name)
    if (processors := _plans.get(key)) is None:
        missing = [c for c in table.c if c.name not in columns and c.default is not None]
        if missing:
            raise ValueError(f"insert_rows into {table.name}: rows lack {missing[0].name}")
        processors = [(name, _bind_processor(table.c[name], dialect)) for name in columns]
        _plans[key] = processors
    return processors


def _bind_processor(column: Any, dialect: Any) -> Any:
    return column.type.dialect_impl(dialect).bind_processor(dialect)


@functools.lru_cache(maxsize=256)
def _statement(
    table: Table,
    columns: tuple[str, ...],
    n_rows: int,
    dialect: Any,
    skip_conflicts: bool,
    returning: str | None,
) -> str:
    quote = dialect.identifier_preparer.quote
    values = ", ".join([f"({marks(len(columns))})"] * n_rows)
    sql = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(c) for c in columns)}) VALUES {values}"
    )
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning is not None:
        sql += f" RETURNING {quote(returning)}"
    return driver_sql(dialect, sql)


def marks(n: int) -> str:
    """`?, ?, ?` for n values (an IN list, a row of VALUES), for `driver_sql`."""
    return ", ".join("?" * n)


def driver_sql(dialect: Any, sql: str) -> str:
    """SQL written with `?` placeholders (and no `?` anywhere else) in the driver's own
    style, for `exec_driver_sql`: as is for sqlite3, `$1, $2, ...` for asyncpg. The hot
    reads and writes of a push go this way: building, caching and binding a SQLAlchemy
    statement with a hundred parameters costs more than running it."""
    if dialect.paramstyle == "qmark":
        return sql
    parts = sql.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]


# SQLite refuses a compound SELECT of more than 500 terms; a storm's group holds more devices.
_MAX_TERMS = 400


async def select_each(conn: AsyncConnection, one: str, params: Sequence[tuple]) -> list[Any]:
    """The rows of `one` (a SELECT with `?` placeholders) for every tuple in `params`, as
    UNION ALLs of a few hundred terms: one indexed walk per tuple (a device's newest rows,
    say) where a window function or GROUP BY would read all of every device's history."""
    term = f"SELECT * FROM ({one}) AS term"
    rows: list[Any] = []
    for start in range(0, len(params), _MAX_TERMS):
        part = params[start : start + _MAX_TERMS]
        sql = driver_sql(conn.dialect, " UNION ALL ".join([term] * len(part)))
        result = await conn.exec_driver_sql(sql, tuple(x for p in part for x in p))
        rows += result.fetchall()
    return rows


def bind_value(column: Any, dialect: Any, value: Any) -> Any:
    """`value` as the driver takes it for `column` (what SQLAlchemy would bind), for
    `driver_sql` statements."""
    process = _bind_processor(column, dialect)
    return process(value) if process else value


def loader(column: Any, dialect: Any) -> Any:
    """What turns a driver's value of `column` into SQLAlchemy's (e.g. SQLite's text of a
    datetime into an aware UTC datetime), for rows of `driver_sql` statements."""
    return column.type.dialect_impl(dialect).result_processor(dialect, None) or (lambda v: v)
