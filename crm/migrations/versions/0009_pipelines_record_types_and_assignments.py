"""pipelines (versioned), record types, the records' move counter and open substates, roles assigned on records

`pipeline_version` holds every saved version of a pipeline; `record_type` says which pipeline defines each
(kind, type). A record counts its moves (`moves`: racing moves check it), the move that
entered its status (`visit`) and the substates open in it. A move's record event says what it left and
entered (`previous_status`, `previous_visit`, `visit`, `substate`, `previous_substates`), for the
automations of both. `record_assignment` holds the roles assigned on records
(salesperson, installer...); an inactive user (`user.active`) is never assigned. The board counts a
pipeline's records by kind, type and status: index (kind, type, status, id).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 05:00:52.279719
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import crm.types


revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('pipeline_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('record_kind', sa.Enum('contact', 'property', 'opportunity', 'job', 'order', 'quote', 'lead', 'case', name='recordkind', native_enum=False, length=32), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('checksum', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'version')
    )
    with op.batch_alter_table('pipeline_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pipeline_version_key'), ['key'], unique=False)

    op.create_table('record_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_kind', sa.Enum('contact', 'property', 'opportunity', 'job', 'order', 'quote', 'lead', 'case', name='recordkind', native_enum=False, length=32), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pipeline_key', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('initial_status', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('updated_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('record_kind', 'name')
    )
    with op.batch_alter_table('record_type', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_type_pipeline_key'), ['pipeline_key'], unique=False)

    op.create_table('record_assignment',
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('step_key', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True),
    sa.Column('assigned_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['record.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('record_id', 'role')
    )
    with op.batch_alter_table('record_assignment', schema=None) as batch_op:
        batch_op.create_index('ix_record_assignment_role_user_id', ['role', 'user_id'], unique=False)

    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('moves', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('visit', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('substates', sa.JSON(), server_default='{}', nullable=False))
        batch_op.create_index('ix_record_kind_type_status_id', ['kind', 'type', 'status', 'id'], unique=False)

    with op.batch_alter_table('record_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_status', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('previous_visit', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('visit', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('substate', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('previous_substates', sa.JSON(), nullable=True))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('active')

    with op.batch_alter_table('record_event', schema=None) as batch_op:
        for column in ('previous_substates', 'substate', 'visit', 'previous_visit', 'previous_status'):
            batch_op.drop_column(column)

    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_index('ix_record_kind_type_status_id')
        batch_op.drop_column('substates')
        batch_op.drop_column('visit')
        batch_op.drop_column('moves')

    with op.batch_alter_table('record_assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_record_assignment_role_user_id')

    op.drop_table('record_assignment')
    with op.batch_alter_table('record_type', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_type_pipeline_key'))

    op.drop_table('record_type')
    with op.batch_alter_table('pipeline_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pipeline_version_key'))

    op.drop_table('pipeline_version')
