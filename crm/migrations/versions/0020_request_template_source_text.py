"""client_request_template.source_text: the YAML or JSON text a request template's version was saved from

The console's request template editor shows a version as the text it was saved from, with its comments and the
author's layout (`POST /client-request-templates` and `stagecoach request-templates apply` send it; the editor
posts it), as the process templates' editor does since 0019. Versions saved before have none: the editor shows
them written from their questions, as it did.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 09:00:00.000000
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0020'
down_revision: Union[str, None] = '0019'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('client_request_template', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_text', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('client_request_template', schema=None) as batch_op:
        batch_op.drop_column('source_text')
