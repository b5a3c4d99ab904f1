"""process runs keep their start's confirmation and a finished process's end; tasks their close reason

A process run row is allocated before Temporal's start; `status` says whether that start was
confirmed (`starting`, `running`, `not_started`), and once the process ends, how (`completed`,
`aborted`, `cancelled`, or `terminated`, `failed`, `timed_out` in Temporal), with `ended_at`,
`ended_by`, `end_reason` and the final `state`: the process list and `GET /processes/{id}` read
finished processes from here, at any age. Rows from before this revision are `running`: the sweep
(activities/process_runs.py) compares them with Temporal and writes the end of those that ended.
The finished processes are listed newest ended first, by each filter of the list: the indexes on
template and record alone become (template_key, ended_at, id) and (record_id, ended_at, id).
A task closed because its process was aborted or cancelled says why (`close_reason`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import crm.types


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

STATUSES = ('starting', 'running', 'completed', 'aborted', 'cancelled', 'terminated', 'failed', 'timed_out',
            'not_started')


def upgrade() -> None:
    with op.batch_alter_table('process_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Enum(*STATUSES, name='runstatus', native_enum=False, length=32),
                                      server_default='running', nullable=False))
        batch_op.add_column(sa.Column('ended_at', crm.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ended_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('end_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('state', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('checked_at', crm.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_process_run_ended_at_id', ['ended_at', 'id'], unique=False)
        batch_op.create_index('ix_process_run_status_ended_at_id', ['status', 'ended_at', 'id'], unique=False)
        batch_op.create_index('ix_process_run_template_key_ended_at_id', ['template_key', 'ended_at', 'id'],
                              unique=False)
        batch_op.create_index('ix_process_run_record_id_ended_at_id', ['record_id', 'ended_at', 'id'], unique=False)
        batch_op.create_index('ix_process_run_owner_id_ended_at_id', ['owner_id', 'ended_at', 'id'], unique=False)
        batch_op.drop_index('ix_process_run_template_key')
        batch_op.drop_index('ix_process_run_record_id')

    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('close_reason', sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_column('close_reason')

    with op.batch_alter_table('process_run', schema=None) as batch_op:
        batch_op.create_index('ix_process_run_record_id', ['record_id'], unique=False)
        batch_op.create_index('ix_process_run_template_key', ['template_key'], unique=False)
        batch_op.drop_index('ix_process_run_owner_id_ended_at_id')
        batch_op.drop_index('ix_process_run_record_id_ended_at_id')
        batch_op.drop_index('ix_process_run_template_key_ended_at_id')
        batch_op.drop_index('ix_process_run_status_ended_at_id')
        batch_op.drop_index('ix_process_run_ended_at_id')
        batch_op.drop_column('checked_at')
        batch_op.drop_column('state')
        batch_op.drop_column('end_reason')
        batch_op.drop_column('ended_by')
        batch_op.drop_column('ended_at')
        batch_op.drop_column('status')
