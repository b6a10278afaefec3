"""Alembic migrations; run with `kancha db upgrade` (or `alembic upgrade head`)."""
