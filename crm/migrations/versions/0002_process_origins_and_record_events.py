"""process origins and record events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:10:47.171996
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import crm.types


revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('record_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('created', 'status_changed', 'field_changed', name='recordeventkind', native_enum=False, length=32), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('step_key', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True),
    sa.Column('created_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dispatched_at', crm.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_user_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['record_id'], ['record.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('step_key')
    )
    with op.batch_alter_table('record_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_event_dispatched_at'), ['dispatched_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_record_event_record_id'), ['record_id'], unique=False)

    with op.batch_alter_table('process_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.Enum('manual', 'follow_up', 'autostart', name='processorigin', native_enum=False, length=32), nullable=False, server_default='manual'))
        batch_op.add_column(sa.Column('parent_workflow_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column('triggered_by_user_id', sa.Integer(), nullable=True))
        batch_op.alter_column('request_id',
               existing_type=sa.VARCHAR(length=200),
               type_=sqlmodel.sql.sqltypes.AutoString(length=400),
               existing_nullable=True)
        batch_op.create_index(batch_op.f('ix_process_run_parent_workflow_id'), ['parent_workflow_id'], unique=False)
        batch_op.create_foreign_key('fk_process_run_triggered_by_user_id_user', 'user', ['triggered_by_user_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('process_run', schema=None) as batch_op:
        batch_op.drop_constraint('fk_process_run_triggered_by_user_id_user', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_process_run_parent_workflow_id'))
        batch_op.alter_column('request_id',
               existing_type=sqlmodel.sql.sqltypes.AutoString(length=400),
               type_=sa.VARCHAR(length=200),
               existing_nullable=True)
        batch_op.drop_column('triggered_by_user_id')
        batch_op.drop_column('parent_workflow_id')
        batch_op.drop_column('origin')

    with op.batch_alter_table('record_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_event_record_id'))
        batch_op.drop_index(batch_op.f('ix_record_event_dispatched_at'))

    op.drop_table('record_event')
