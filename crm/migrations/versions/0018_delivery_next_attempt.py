"""delivery.next_attempt_at: a signing provider's cancel call tried again by the dispatcher's sweep

A `cancel_signature` delivery whose attempts all failed (the provider down for longer than the step's retries)
is tried again by the record-events dispatcher's sweep, not before `next_attempt_at` (`activities/signing/cancel.py`).
Rows from before have none: an undelivered cancel call is due at the first sweep.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 14:40:00.000000
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import crm.types


revision: str = '0018'
down_revision: Union[str, None] = '0017'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', crm.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_at')
