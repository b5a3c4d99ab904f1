"""cases: participants, tags and their links, closures

A case is a record of kind `case`. `case_participant` links it to contact records, `tag` holds tag
names (unique in lower case, `name_key`) and `record_tag` links records to them, and `case_closure`
holds a closed case's closing (an open case has none). A task gets a `category` and a reminder
`remind_minutes_before` its due time (tasks staff make by hand on any record). `import_job` follows a
CSV import of contacts or cases.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 05:27:50.744636
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import crm.types


revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name_key')
    )
    op.create_table('case_closure',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('closed_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['record.id'], ),
    sa.PrimaryKeyConstraint('case_id')
    )
    op.create_table('case_participant',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('added_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('added_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['record.id'], ),
    sa.ForeignKeyConstraint(['contact_id'], ['record.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'contact_id')
    )
    with op.batch_alter_table('case_participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_participant_contact_id'), ['contact_id'], unique=False)

    op.create_table('record_tag',
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['record.id'], ),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], ),
    sa.PrimaryKeyConstraint('record_id', 'tag_id')
    )
    with op.batch_alter_table('record_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_tag_tag_id'), ['tag_id'], unique=False)

    op.create_table('import_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('contacts', 'cases', name='importkind', native_enum=False, length=32), nullable=False),
    sa.Column('mode', sa.Enum('all_or_nothing', 'valid_rows', name='importmode', native_enum=False, length=32),
              nullable=False),
    sa.Column('status', sa.Enum('validating', 'importing', 'done', 'refused', 'failed', name='importstatus',
                                native_enum=False, length=32), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=False),
    sa.Column('encoding', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('delimiter', sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_invalid', sa.Integer(), nullable=False),
    sa.Column('rows_written', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', crm.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_key.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_job_api_key_id'), ['api_key_id'], unique=False)

    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('remind_minutes_before', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_job_api_key_id'))

    op.drop_table('import_job')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_column('remind_minutes_before')
        batch_op.drop_column('category')

    with op.batch_alter_table('record_tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_tag_tag_id'))

    op.drop_table('record_tag')
    with op.batch_alter_table('case_participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_participant_contact_id'))

    op.drop_table('case_participant')
    op.drop_table('case_closure')
    op.drop_table('tag')
