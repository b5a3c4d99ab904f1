"""signature requests: documents sent to a signing provider, their outcome, and its outbox (`delivered_at`)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 09:57:51.210519
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import crm.types


revision: str = '0015'
down_revision: Union[str, None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('signature_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step_key', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('envelope_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('signer', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('phase_key', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True),
    sa.Column('status', sa.Enum('sent', 'signed', 'declined', 'expired', name='signaturestatus', native_enum=False, length=32), nullable=False),
    sa.Column('expires_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', crm.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('signed_version', sa.Integer(), nullable=True),
    sa.Column('delivered_at', crm.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['record_id'], ['record.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'envelope_id', name='uq_signature_request_envelope'),
    sa.UniqueConstraint('step_key')
    )
    with op.batch_alter_table('signature_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_request_record_id'), ['record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_request_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('signature_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_request_status'))
        batch_op.drop_index(batch_op.f('ix_signature_request_record_id'))

    op.drop_table('signature_request')
