"""client_request_replaced_link: the links a resend replaced

A resend gives a request a new link and the old one stops working. Its client who opened the older email's link was
told "link not found", as for a link mistyped. The replaced link's token hash is now kept, so that page says a newer
link was sent and when, and does not count the visit as a guess.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 22:00:00.000000
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import crm.types


revision: str = '0022'
down_revision: Union[str, None] = '0021'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('client_request_replaced_link',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('replaced_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['client_request.id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('client_request_replaced_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_request_replaced_link_request_id'), ['request_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('client_request_replaced_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_request_replaced_link_request_id'))
    op.drop_table('client_request_replaced_link')
