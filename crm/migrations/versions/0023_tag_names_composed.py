"""tag names composed: a tag's name and key with their accents composed (NFC)

`Perché` typed (composed) and pasted from a file named on a Mac (decomposed) made two tags that look the same. Names
are now stored composed and keyed by their composed form in lower case (`crm.cases.models.tag_key`). This migration
brings the tags saved before to that form. A tag whose new key another tag already has keeps its old key: the two
are the same tag twice, which the office merges (`POST /tags/{id}/merge`) with its cases.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 03:00:00.000000
"""
import unicodedata
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0023'
down_revision: Union[str, None] = '0022'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TAG = sa.table('tag', sa.column('id', sa.Integer), sa.column('name', sa.String), sa.column('name_key', sa.String))


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(TAG.c.id, TAG.c.name, TAG.c.name_key).order_by(TAG.c.id)).all()
    keys = {row.name_key for row in rows}
    for row in rows:
        name = unicodedata.normalize('NFC', row.name.strip())
        key = name.casefold()
        if key != row.name_key and key in keys:
            key = row.name_key
        if (name, key) != (row.name, row.name_key):
            connection.execute(sa.update(TAG).where(TAG.c.id == row.id).values(name=name, name_key=key))
            keys.discard(row.name_key)
            keys.add(key)


def downgrade() -> None:
    pass  # the composed names and keys are what the earlier code would have written for names typed composed
