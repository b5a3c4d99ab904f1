"""the staff console: users' passwords and console roles, sessions, failed sign-ins; idempotency keys of users

A user with a password signs in to the console (argon2id hash in `user.password_hash`; `console_role`
staff or admin). Each sign-in is a `staff_session` row (the SHA-256 of the cookie's token, its CSRF
token, its expiry); signing out deletes it. Failed sign-ins are `sign_in_failure` rows, counted per
handle and per address to slow a guesser down. An Idempotency-Key is claimed by an API key or by a console user:
`idempotency_key.api_key_id` becomes nullable, with `user_id` beside it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 05:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

import crm.types


revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('console_role', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      server_default='staff', nullable=False))
    with op.batch_alter_table('idempotency_key', schema=None) as batch_op:
        batch_op.alter_column('api_key_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_idempotency_key_user_id_user', 'user', ['user_id'], ['id'])
    op.create_table('staff_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('staff_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_session_user_id'), ['user_id'], unique=False)
    op.create_table('sign_in_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('handle', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', crm.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sign_in_failure', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_failure_handle_at', ['handle', 'at'], unique=False)
        batch_op.create_index('ix_sign_in_failure_address_at', ['address', 'at'], unique=False)


def downgrade() -> None:
    op.drop_table('sign_in_failure')
    with op.batch_alter_table('staff_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_session_user_id'))
    op.drop_table('staff_session')
    op.execute("DELETE FROM idempotency_key WHERE api_key_id IS NULL")
    with op.batch_alter_table('idempotency_key', schema=None) as batch_op:
        batch_op.drop_constraint('fk_idempotency_key_user_id_user', type_='foreignkey')
        batch_op.drop_column('user_id')
        batch_op.alter_column('api_key_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('console_role')
        batch_op.drop_column('password_hash')
