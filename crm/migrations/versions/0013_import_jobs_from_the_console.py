"""import jobs from the console: a job is sent by an API key or by a user signed in to the console

`import_job.api_key_id` may be empty; `import_job.user_id` names the console user who sent the file.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 09:10:00.000000
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import crm.types


revision: str = '0013'
down_revision: Union[str, None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.alter_column('api_key_id', existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f('ix_import_job_user_id'), ['user_id'], unique=False)
        batch_op.create_foreign_key('fk_import_job_user_id_user', 'user', ['user_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('import_job', schema=None) as batch_op:
        batch_op.drop_constraint('fk_import_job_user_id_user', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_import_job_user_id'))
        batch_op.alter_column('api_key_id', existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column('user_id')
