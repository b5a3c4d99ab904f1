"""process_template_version.source_text: the YAML or JSON text a version was saved from

The console's template editor shows a version as the text it was saved from, with its comments and the author's
layout (`POST /templates` and `stagecoach apply` send it; the editor posts it). Versions saved before have none:
the editor shows them written from their definition, as it did.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 07:10:00.000000
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0019'
down_revision: Union[str, None] = '0018'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('process_template_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_text', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('process_template_version', schema=None) as batch_op:
        batch_op.drop_column('source_text')
