"""restricted records and access lists

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:06:57.954857
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('record_access',
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['record.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('record_id', 'user_id')
    )
    with op.batch_alter_table('record_access', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_access_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('restricted', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_column('restricted')

    with op.batch_alter_table('record_access', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_access_user_id'))

    op.drop_table('record_access')
