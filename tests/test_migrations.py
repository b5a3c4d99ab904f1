"""The migrations build exactly the models' schema, and go down to nothing and up again, on both databases."""

from __future__ import annotations

import json
import secrets
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel

import crm.documents.models  # noqa: F401  (registers the document tables)
import crm.imports.models  # noqa: F401  (registers the import_job table)
import crm.models  # noqa: F401  (registers the tables)
import crm.deliveries  # noqa: F401  (registers the delivery tables)
import crm.pipeline_models  # noqa: F401
import crm.template_models  # noqa: F401
from crm.client_requests.models import CONTACT_EMAIL_INDEX
from crm.client_requests.store import hash_token
from crm.deliveries import Delivery
from crm.migrate import alembic_config, sync_url, upgrade_database
from crm.models import TITLE_SEARCH_INDEX, Record, RecordKind
from crm.signatures import SignatureRequest
from crm.text_search import contains_text
from tests.conftest import POSTGRES_ADMIN_URL


def differences(url: str) -> list[object]:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite's reflection cannot read expression indexes (SQLAlchemy skips them, alembic skips the models'
            # with a warning): there `test_the_expression_index_is_made` checks it; PostgreSQL compares it here
            for index in (CONTACT_EMAIL_INDEX, TITLE_SEARCH_INDEX):
                warnings.filterwarnings("ignore", message=f".*expression-based index .*{index}")
            return list(compare_metadata(MigrationContext.configure(conn), SQLModel.metadata))
    finally:
        engine.dispose()


@pytest.fixture
def scratch_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's own, on the session's backend."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"stagecoach_migrations_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield database_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrations_match_the_models(database_url: str) -> None:
    assert differences(database_url) == []


def test_migrations_go_down_and_up(scratch_url: str) -> None:
    upgrade_database(scratch_url)
    command.downgrade(alembic_config(scratch_url), "base")
    upgrade_database(scratch_url)
    assert differences(scratch_url) == []


def test_the_expression_index_is_made(database_url: str) -> None:
    """The index on `lower(contact_email)` (which SQLite's reflection cannot compare) is in the database, on its
    expression."""
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?",
                                           (CONTACT_EMAIL_INDEX,)).scalar()
            else:
                sql = conn.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                                           (CONTACT_EMAIL_INDEX,)).scalar()
    finally:
        engine.dispose()
    assert sql is not None and "lower(" in sql.lower() and "contact_email" in sql, sql


def test_the_title_search_reads_its_index_in_postgresql(database_url: str) -> None:
    """The search's condition (`crm.text_search.contains_text`) is the expression the trigram index is built on;
    SQLite has no such index (its folding is a function each connection registers) and scans."""
    engine = sa.create_engine(sync_url(database_url))
    query = sa.select(Record.id).where(contains_text(Record.title, "bàrberi"))  # type: ignore[arg-type]
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                indexes = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars()
                assert TITLE_SEARCH_INDEX not in list(indexes)
                return
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a small table: ask for the index
            compiled = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            plan = " ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}").all())
    finally:
        engine.dispose()
    assert TITLE_SEARCH_INDEX in plan, plan
def test_0017_keeps_only_the_hash_of_the_signing_links_already_emailed(scratch_url: str) -> None:
    """An embedded link emailed before 0017 keeps opening: its token, kept in clear, becomes its SHA-256 (as the
    signing page looks it up); a provider's envelope id stays as it was"""
    command.upgrade(alembic_config(scratch_url), "0016")
    token = secrets.token_urlsafe(32)
    engine = sa.create_engine(sync_url(scratch_url))
    try:
        with Session(engine) as session:
            record = Record(kind=RecordKind.lead, title="Villa Rosa")
            session.add(record)
            session.flush()
            for n, (provider, envelope) in enumerate((("embedded", token), ("acme", "env-42"))):
                session.add(SignatureRequest(step_key=f"p/offer/{n}/0", provider=provider, envelope_id=envelope,
                                             record_id=record.id, document_id=1, version=1, signer="a@example.org",
                                             expires_at=datetime.now(UTC)))
                # the columns of 0016 (the model has later ones)
                session.execute(sa.insert(Delivery.__table__).values(  # type: ignore[attr-defined]
                    step_key=f"p/offer/{n}/0", kind="request_signature", message_id=f"sig_{n}", record_id=record.id,
                    target="a@example.org", provider_id=envelope, status="pending", attempts=0,
                    created_at=datetime.now(UTC),
                    body=json.dumps({"document_id": 1, "version": 1, "provider": provider})))
            session.commit()
        upgrade_database(scratch_url)
        with engine.connect() as conn:
            envelopes = dict(conn.execute(sa.text("SELECT provider, envelope_id FROM signature_request")).all())
            deliveries = dict(conn.execute(sa.text("SELECT step_key, provider_id FROM delivery")).all())
    finally:
        engine.dispose()
    assert envelopes == {"embedded": hash_token(token), "acme": "env-42"}
    assert deliveries == {"p/offer/0/0": hash_token(token), "p/offer/1/0": "env-42"}


def test_0023_composes_tag_names_and_keys(scratch_url: str) -> None:
    """A tag saved decomposed gets its composed name and key; one whose composed key another tag has keeps its own
    (the office merges the two)"""
    command.upgrade(alembic_config(scratch_url), "0022")
    engine = sa.create_engine(sync_url(scratch_url))
    decomposed = "Perche\u0301"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO tag (name, name_key, created_at) VALUES (:n, :k, :t)"), [
                {"n": decomposed, "k": decomposed.casefold(), "t": datetime.now(UTC)},
                {"n": "Urgente", "k": "urgente", "t": datetime.now(UTC)},
                {"n": "Citta\u0300", "k": "citta\u0300", "t": datetime.now(UTC)},
                {"n": "città", "k": "città", "t": datetime.now(UTC)}])
        upgrade_database(scratch_url)
        with engine.connect() as conn:
            tags = conn.execute(sa.text("SELECT name, name_key FROM tag ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [tuple(tag) for tag in tags] == [("Perché", "perché"), ("Urgente", "urgente"),
                                            ("Città", "citta\u0300"), ("città", "città")]
