"""SQLite never gives an id twice, as PostgreSQL's sequences do not: AUTOINCREMENT on every `id` primary key.

Without it SQLite hands out max(id) + 1, so the id of the last row deleted came back (a deleted case's record id
went to the next case, whose process then had the deleted one's Temporal workflow id). Migration 0021 rebuilt the
tables so; this declares it on the models, so their metadata says what the migrated schema is. A table added
later gets it here; its migration must create it with `sqlite_autoincrement=True` (tests/test_migrations.py
checks the migrated schema).
"""

from __future__ import annotations

import sqlalchemy as sa


def never_reuse_ids(metadata: sa.MetaData) -> None:
    """Set `sqlite_autoincrement` on every table whose primary key is one integer column named `id`."""
    for table in metadata.tables.values():
        key = list(table.primary_key.columns)
        if len(key) == 1 and key[0].name == "id" and isinstance(key[0].type, sa.Integer):
            table.dialect_kwargs["sqlite_autoincrement"] = True
