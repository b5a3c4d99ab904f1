"""An id freed by a deletion is never given again, on SQLite (AUTOINCREMENT, migration 0021) as on PostgreSQL.

A deleted case's record id given to the next case gave that case's first process the deleted one's workflow id
(`process-{template}-{record id}-1`), which Temporal still held: the process never started.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session, SQLModel

import crm.cases.models  # noqa: F401  (every model module crm/migrations/env.py registers)
import crm.client_requests.models  # noqa: F401
import crm.deliveries  # noqa: F401
import crm.documents.models  # noqa: F401
import crm.idempotency_keys  # noqa: F401
import crm.imports.models  # noqa: F401
import crm.pipeline_models  # noqa: F401
import crm.process_runs  # noqa: F401
import crm.signatures  # noqa: F401
import crm.staff_sessions  # noqa: F401
import crm.template_models  # noqa: F401
from crm.client_requests.models import CONTACT_EMAIL_INDEX, ClientRequest
from crm.migrate import alembic_config, sync_url
from crm.models import Record, RecordKind
from crm.sqlite_ids import never_reuse_ids
from tests.cases.helpers import case, running_process, user
from tests.e2e.conftest import Stack, smtp, stack  # noqa: F401  (fixtures)
from tests.test_migrations import scratch_url  # noqa: F401  (fixture)


def _schema(conn: sa.Connection) -> dict[str, object]:
    """SQLite's indexes and triggers (name, table, SQL), and every table's rows."""
    return {
        "indexes": sorted(conn.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                               "WHERE type IN ('index', 'trigger', 'view')").all()),
        "rows": {name: conn.exec_driver_sql(f'SELECT * FROM "{name}" ORDER BY 1').all()
                 for (name,) in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                     "AND name NOT IN ('alembic_version', 'sqlite_sequence')")},
    }


def test_0021_keeps_rows_and_indexes_and_a_deleted_highest_id_is_not_given_again(
        scratch_url: str) -> None:  # noqa: F811
    """Upgrading a database of 0020 keeps every row, index (the expression index on lower(contact_email) too) and
    foreign key; after it, the id of the last record deleted is not given to the next one"""
    command.upgrade(alembic_config(scratch_url), "0020")
    engine = sa.create_engine(sync_url(scratch_url))
    try:
        with Session(engine) as session:
            records = [Record(kind=RecordKind.lead, title=f"Lead {n}") for n in range(5)]
            session.add_all(records)
            session.flush()
            session.add(ClientRequest(record_id=records[1].id, contact_email="Anna@Example.org",
                                      template_key="documents", template_version=1, language="it", title="Docs",
                                      token_hash="ab" * 32, expires_at=datetime.now(UTC) + timedelta(days=7)))
            records[3].contact_id = records[0].id
            session.commit()
            top = max(r.id for r in records if r.id is not None)
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            with engine.connect() as conn:
                before = _schema(conn)
            assert any(name == CONTACT_EMAIL_INDEX and "lower(contact_email)" in sql
                       for _, name, _, sql in before["indexes"])  # type: ignore[attr-defined]

        command.upgrade(alembic_config(scratch_url), "0021")

        with engine.connect() as conn:
            if sqlite:
                assert _schema(conn) == before  # every row, every index with its SQL
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.execute(sa.text("SELECT count(*) FROM record")).scalar() == 5
        with Session(engine) as session:
            session.execute(sa.delete(Record).where(Record.id == top))  # type: ignore[arg-type]
            session.commit()
            again = Record(kind=RecordKind.lead, title="After the deletion")
            session.add(again)
            session.commit()
            assert again.id is not None and again.id > top
        if sqlite:  # SQLite keeps the largest id given, the copy's included
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = 'record'").scalar() \
                    == again.id == top + 1
    finally:
        engine.dispose()


def test_every_integer_id_is_never_given_twice_at_head(database_url: str) -> None:
    """Every table with an integer `id` key is AUTOINCREMENT on SQLite after the migrations (a later migration
    rebuilding one in batch mode must keep it: `table_kwargs={"sqlite_autoincrement": True}`), as the models say;
    on PostgreSQL each takes its ids from a sequence"""
    never_reuse_ids(SQLModel.metadata)  # as crm/migrations/env.py does
    declared = {name for name, table in SQLModel.metadata.tables.items()
                if table.dialect_options["sqlite"]["autoincrement"]}
    assert {"record", "process_run", "client_request", "signature_request", "document"} <= declared
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                made = {name for name, sql in conn.exec_driver_sql("SELECT name, sql FROM sqlite_master "
                                                                   "WHERE type = 'table'").all()
                        if "AUTOINCREMENT" in sql.upper()}
            else:
                made = {name for name in declared
                        if conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": name}).scalar()}
    finally:
        engine.dispose()
    assert made == declared


@pytest.mark.e2e
async def test_a_case_made_after_a_deleted_one_gets_a_new_id_and_its_process_runs(stack: Stack) -> None:  # noqa: F811
    """Deleting the newest case frees its id: the next case gets another one, and a process started on it runs
    (with the deleted case's id it had the deleted process's workflow id, and stayed `starting`)"""
    http, admin = stack.http, stack.as_("admin")
    owner = await user(stack, "owner")
    deleted = await case(stack, "Withdrawn claim", owner_id=owner["id"])
    workflow_id = await running_process(stack, deleted["id"])
    response = await http.delete(f"/cases/{deleted['id']}", headers=admin, params={"confirm": "true"})
    assert response.status_code == 200, response.text
    assert response.json()["processes_aborted"] == [workflow_id]

    created = await case(stack, "New claim", owner_id=owner["id"])
    assert created["id"] != deleted["id"]
    started = await running_process(stack, created["id"])  # 201, and its phase's task comes
    assert started != workflow_id
    process = await http.get(f"/processes/{started}", headers=admin)
    assert process.status_code == 200 and process.json()["status"] == "running", process.text
