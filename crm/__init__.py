"""Persistence: SQLModel tables, the async engine and session, alembic migrations."""
