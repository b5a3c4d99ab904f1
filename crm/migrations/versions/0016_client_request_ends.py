"""client request ends: the closures' outbox, and requests by the client's address

`client_request_closure`: the outbox row written with a request a process waits for that ended unanswered
(cancelled, expired), delivered to that process as the signal `client_request_closed`. The index
`lower(contact_email)` serves the record page's "requests of this client not linked yet" and
`GET /client-requests?contact_email=` (an expression index: PostgreSQL and SQLite both have them).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 11:40:00.000000
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import crm.types


revision: str = '0016'
down_revision: Union[str, None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('client_request_closure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.Enum('pending', 'submitted', 'cancelled', 'expired', name='requeststatus', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', crm.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['client_request.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('client_request_closure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_request_closure_request_id'), ['request_id'], unique=False)
    op.create_index('ix_client_request_lower_contact_email', 'client_request', [sa.text('lower(contact_email)')],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_client_request_lower_contact_email', table_name='client_request')
    with op.batch_alter_table('client_request_closure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_request_closure_request_id'))

    op.drop_table('client_request_closure')
