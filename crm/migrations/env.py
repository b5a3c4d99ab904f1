"""Alembic environment: runs migrations with the URL set by `crm.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

import crm.models  # noqa: F401  (registers the tables)
import crm.idempotency_keys  # noqa: F401  (registers the idempotency_key table)
import crm.pipeline_models  # noqa: F401  (registers the pipeline tables)
import crm.process_runs  # noqa: F401  (registers the process_run table)
import crm.deliveries  # noqa: F401  (registers the delivery tables)
import crm.staff_sessions  # noqa: F401  (registers the console's session tables)
import crm.template_models  # noqa: F401  (registers the template versions table)
import crm.cases.models  # noqa: F401  (registers the tables of cases)
import crm.imports.models  # noqa: F401  (registers the import_job table)
import crm.documents.models  # noqa: F401  (registers the document tables)
import crm.client_requests.models  # noqa: F401  (registers the client request tables)
import crm.signatures  # noqa: F401  (registers the signature request table)
from crm.sqlite_ids import never_reuse_ids

never_reuse_ids(SQLModel.metadata)  # as migration 0021 made the tables on SQLite

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}),
                                     prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
