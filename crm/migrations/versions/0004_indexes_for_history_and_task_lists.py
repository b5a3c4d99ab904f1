"""indexes for a record's history, a user's task list, restricted records and the title search

A record's history is read by record, in id order: (record_id, id) serves the page straight
from the index, where the index on record_id alone left PostgreSQL a choice between walking
the primary key and filtering (42,697 rows read for 200 returned) or fetching and sorting every
entry of the record. A user's task list is read by assignee and status, by due date (nulls
last) then id: (assignee_id, status, due_at, id) returns the first page in order. Each new
index starts with the column of the index it replaces, which becomes redundant. The few
restricted records (the ones a staff key may not see) are found by an index instead of a scan of
every record, for every list a staff key reads (crm/access.py). The title search (ILIKE '%…%')
gets a trigram index in PostgreSQL (70 ms for a scan of 100,000 titles, 2 ms with it); SQLite
scans (7 ms) and gets the index empty (WHERE 0), so that the models match on both databases.
(bench/data_scale.py, docs/benchmarks.md, scenario 5.)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 20:20:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')  # trusted: the database owner may create it
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_restricted'), ['restricted'], unique=False)
        batch_op.create_index('ix_record_title_trgm', ['title'], unique=False, postgresql_using='gin',
                              postgresql_ops={'title': 'gin_trgm_ops'}, sqlite_where=sa.text('0'))

    with op.batch_alter_table('history_entry', schema=None) as batch_op:
        batch_op.create_index('ix_history_entry_record_id_id', ['record_id', 'id'], unique=False)
        batch_op.drop_index('ix_history_entry_record_id')

    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index('ix_task_assignee_id_status_due_at_id', ['assignee_id', 'status', 'due_at', 'id'],
                              unique=False)
        batch_op.drop_index('ix_task_assignee_id')


def downgrade() -> None:
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index('ix_task_assignee_id', ['assignee_id'], unique=False)
        batch_op.drop_index('ix_task_assignee_id_status_due_at_id')

    with op.batch_alter_table('history_entry', schema=None) as batch_op:
        batch_op.create_index('ix_history_entry_record_id', ['record_id'], unique=False)
        batch_op.drop_index('ix_history_entry_record_id_id')

    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_index('ix_record_title_trgm')
        batch_op.drop_index(batch_op.f('ix_record_restricted'))
    # pg_trgm stays: other objects may use it by now
