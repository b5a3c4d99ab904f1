"""SQLite never gives an id twice: every table with an integer `id` primary key gets AUTOINCREMENT

Without AUTOINCREMENT SQLite hands out max(id) + 1, so the id of the last row deleted came back: a case deleted
with `DELETE /cases/{id}?confirm=true` gave its record id to the next case, whose first process then had the
deleted case's workflow id (`process-{template}-{record id}-1`), still held by Temporal. Ids that name something
outside the database (workflow ids, signature requests, documents' storage keys) must never come back, as they
never do on PostgreSQL (its sequences only go up). With AUTOINCREMENT, SQLite keeps the largest id ever given in
`sqlite_sequence` and never gives one at or below it.

On SQLite each such table is rebuilt as https://www.sqlite.org/lang_altertable.html#otheralter says: its
CREATE TABLE text, as sqlite_master holds it, is edited to make `id` `INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT`
(and to drop the table's `PRIMARY KEY (id)`), nothing else; the rows are copied over (which sets the table's
`sqlite_sequence` to its largest id); the old table is dropped, the new one renamed, and its indexes and
triggers made again from their saved SQL. Not alembic's batch mode: it rebuilds from reflection, which loses
expression indexes (`ix_client_request_lower_contact_email`) and SQLite's spelling of defaults. Each table is
checked after (columns, foreign keys, indexes, row count, sqlite_sequence), and the whole database with
`PRAGMA foreign_key_check`. Migrations run with foreign key enforcement off (crm.migrate's plain connection),
as dropping a referenced table needs. On PostgreSQL nothing changes.

A later migration that rebuilds one of these tables in batch mode must pass
`table_kwargs={"sqlite_autoincrement": True}` to `op.batch_alter_table` (reflection does not read it back):
tests/test_migrations.py checks every such table has AUTOINCREMENT at head.

The downgrade rebuilds them the same way without AUTOINCREMENT (ids freed by deletions can be given again).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 09:00:00.000000
"""
import re
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0021'
down_revision: Union[str, None] = '0020'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ID = r'(?:id|"id"|`id`|\[id\])'
_PLAIN_ID_COLUMN = re.compile(rf'(?m)^(\s*){_ID}\s+INTEGER\s+NOT\s+NULL\s*,', re.IGNORECASE)
_TABLE_PRIMARY_KEY = re.compile(rf',\s*(?:CONSTRAINT\s+(?:"[^"]*"|\S+)\s+)?PRIMARY\s+KEY\s*\(\s*{_ID}\s*\)',
                                re.IGNORECASE)
_AUTOINCREMENT_ID_COLUMN = re.compile(rf'(?m)^(\s*){_ID}\s+INTEGER\s+NOT\s+NULL\s+PRIMARY\s+KEY\s+AUTOINCREMENT\s*,',
                                      re.IGNORECASE)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rename_in_create(sql: str, table: str, new_name: str) -> str:
    header = re.compile(rf'^\s*CREATE\s+TABLE\s+(?:"{re.escape(table)}"|{re.escape(table)}|`{re.escape(table)}`)\s*\(',
                        re.IGNORECASE)
    renamed, n = header.subn(f'CREATE TABLE {_quote(new_name)} (', sql, count=1)
    if n != 1:
        raise RuntimeError(f"0021: unexpected CREATE TABLE text for {table}: {sql!r}")
    return renamed


def _with_autoincrement(table: str, sql: str) -> str:
    column, n = _PLAIN_ID_COLUMN.subn(r'\1id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,', sql)
    edited, m = _TABLE_PRIMARY_KEY.subn('', column)
    if n != 1 or m != 1:
        raise RuntimeError(f"0021: cannot find the id column and PRIMARY KEY (id) of {table} in {sql!r}")
    return edited


def _without_autoincrement(table: str, sql: str) -> str:
    column, n = _AUTOINCREMENT_ID_COLUMN.subn(r'\1id INTEGER NOT NULL,', sql)
    end = column.rstrip()
    if n != 1 or not end.endswith(')'):
        raise RuntimeError(f"0021: cannot find the AUTOINCREMENT id column of {table} in {sql!r}")
    return end[:-1].rstrip() + ', \n\tPRIMARY KEY (id)\n)'


def _id_tables(conn: sa.Connection) -> dict[str, str]:
    """Each table whose primary key is one INTEGER column named `id`, with its CREATE TABLE text."""
    found = {}
    rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").all()
    for name, sql in rows:
        key = [r for r in conn.exec_driver_sql(f"PRAGMA table_info({_quote(name)})").all() if r[5]]
        if len(key) == 1 and key[0][1] == "id" and key[0][2].upper() == "INTEGER":
            found[name] = sql
    return found


def _shape(conn: sa.Connection, table: str) -> tuple[object, ...]:
    """What the rebuild must keep: columns (type, not null, default, key), foreign keys, indexes and triggers."""
    quoted = _quote(table)
    return (
        [tuple(r) for r in conn.exec_driver_sql(f"PRAGMA table_info({quoted})").all()],
        sorted(tuple(r) for r in conn.exec_driver_sql(f"PRAGMA foreign_key_list({quoted})").all()),
        sorted(tuple(r) for r in conn.exec_driver_sql(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = ?",
            (table,)).all()),
        conn.exec_driver_sql(f"SELECT count(*), max(id) FROM {quoted}").one()[0:2],
    )


def _rebuild(conn: sa.Connection, tables: dict[str, str]) -> None:
    """Rebuild each table from its new CREATE TABLE text, keeping its rows, indexes and triggers."""
    if conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("0021 rebuilds tables: run it with foreign key enforcement off (as crm.migrate does)")
    violations = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    for table, create in tables.items():
        quoted, new = _quote(table), _quote(f"_new_{table}")
        before = _shape(conn, table)
        kept = [sql for (sql,) in conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = ? AND sql IS NOT NULL "
            "ORDER BY type, name", (table,)).all()]  # indexes first ('index' < 'trigger')
        columns = ", ".join(_quote(r[1]) for r in before[0])  # type: ignore[attr-defined]
        conn.exec_driver_sql(_rename_in_create(create, table, f"_new_{table}"))
        conn.exec_driver_sql(f"INSERT INTO {new} ({columns}) SELECT {columns} FROM {quoted}")
        conn.exec_driver_sql(f"DROP TABLE {quoted}")
        conn.exec_driver_sql(f"ALTER TABLE {new} RENAME TO {quoted}")
        for sql in kept:
            conn.exec_driver_sql(sql)
        after = _shape(conn, table)
        if after != before:
            raise RuntimeError(f"0021: rebuilding {table} changed it: {before!r} became {after!r}")
    if conn.exec_driver_sql("PRAGMA foreign_key_check").all() != violations:
        raise RuntimeError("0021: the rebuild broke foreign keys (PRAGMA foreign_key_check)")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    tables = {name: sql for name, sql in _id_tables(conn).items() if not _AUTOINCREMENT_ID_COLUMN.search(sql)}
    _rebuild(conn, {name: _with_autoincrement(name, sql) for name, sql in tables.items()})  # all edited first
    for name in tables:  # the copy set each table's sequence to its largest id: the next one is above it
        seq = conn.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = ?", (name,)).scalar()
        top = conn.exec_driver_sql(f"SELECT max(id) FROM {_quote(name)}").scalar()
        if (top or 0) > (seq or 0):
            raise RuntimeError(f"0021: sqlite_sequence of {name} is {seq}, below its largest id {top}")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    tables = {name: sql for name, sql in _id_tables(conn).items() if _AUTOINCREMENT_ID_COLUMN.search(sql)}
    _rebuild(conn, {name: _without_autoincrement(name, sql) for name, sql in tables.items()})
