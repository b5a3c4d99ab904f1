"""search without accents: `barberi` finds "Bàrberi"

A search folded case only, so an office that typed a name without its accent (`perche`, `citta`, `barberi`) did not
find the record. Both sides of a search now go through `stagecoach_fold(text)` (`crm/text_search.py`). In
PostgreSQL it is `lower(unaccent(...))`, from the trusted `unaccent` extension; it is declared IMMUTABLE (it names
its dictionary, so no setting changes what it gives) so that the record title's trigram index can be built on it,
and replaces the one on the title as typed. SQLite registers its own on each connection and had only an empty copy
of the old index (`WHERE 0`), dropped here.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 12:00:00.000000
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0024'
down_revision: Union[str, None] = '0023'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_INDEX = 'ix_record_title_trgm'
INDEX = 'ix_record_title_folded_trgm'


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != 'postgresql':
        op.drop_index(OLD_INDEX, table_name='record')
        return
    op.execute('CREATE EXTENSION IF NOT EXISTS unaccent')  # trusted: the database owner may create it
    schema = connection.execute(sa.text(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'unaccent'")).scalar_one()
    op.execute(f"""
        CREATE OR REPLACE FUNCTION stagecoach_fold(text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $$ SELECT lower({schema}.unaccent('{schema}.unaccent'::regdictionary, $1)) $$""")
    op.drop_index(OLD_INDEX, table_name='record')
    op.execute(f'CREATE INDEX {INDEX} ON record USING gin (stagecoach_fold(title) gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        op.create_index(OLD_INDEX, 'record', ['title'], unique=False, sqlite_where=sa.text('0'))
        return
    op.drop_index(INDEX, table_name='record')
    op.create_index(OLD_INDEX, 'record', ['title'], unique=False, postgresql_using='gin',
                    postgresql_ops={'title': 'gin_trgm_ops'})
    op.execute('DROP FUNCTION stagecoach_fold(text)')
