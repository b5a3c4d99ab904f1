"""client requests: request templates, requests sent to a record's contact, and their submissions' outbox

`client_request_template` is one version of a template (title, message, questions); `client_request` is one
request sent (its questions copied, its link's token stored as a SHA-256, who waits for its answer);
`client_request_submission` is the outbox row a submission writes, delivered to the waiting workflow.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 08:30:43.209368
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import crm.types


revision: str = '0012'
down_revision: Union[str, None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('client_request_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=False),
    sa.Column('questions', sa.JSON(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'version')
    )
    with op.batch_alter_table('client_request_template', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_request_template_key'), ['key'], unique=False)

    op.create_table('client_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('contact_email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('template_key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('template_version', sa.Integer(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=False),
    sa.Column('questions', sa.JSON(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sa.Enum('pending', 'submitted', 'cancelled', 'expired', name='requeststatus', native_enum=False, length=32), nullable=False),
    sa.Column('auto_move', sa.Enum('off', 'on', name='automove', native_enum=False, length=32), nullable=False),
    sa.Column('waiting_workflow_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('waiting_phase_key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('waiting_status', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('expires_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reminders_sent', sa.Integer(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', crm.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('closed_at', crm.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['record_id'], ['record.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('client_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_request_record_id'), ['record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_client_request_status'), ['status'], unique=False)

    op.create_table('client_request_submission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('created_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', crm.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['client_request.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id')
    )


def downgrade() -> None:
    op.drop_table('client_request_submission')
    with op.batch_alter_table('client_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_request_status'))
        batch_op.drop_index(batch_op.f('ix_client_request_record_id'))

    op.drop_table('client_request')
    with op.batch_alter_table('client_request_template', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_request_template_key'))

    op.drop_table('client_request_template')
