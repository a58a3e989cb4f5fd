"""access-control simulator tables

Revision ID: acs_0001
Revises:
Create Date: 2026-11-30 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'acs_0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('access_control_simulator',)
depends_on: str | Sequence[str] | None = None  # its own history; the core's is upgraded first


def _key(name: str, length: int = 16, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table('acs_system',
    sa.Column('system_id', sa.Integer(), nullable=False),
    sa.Column('fault', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('fail_next', sa.Integer(), nullable=False),
    sa.Column('provisioned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['system_id'], ['system.id'], ),
    sa.PrimaryKeyConstraint('system_id')
    )
    op.create_table('acs_door',
    sa.Column('system_id', sa.Integer(), nullable=False),
    _key('id'),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.ForeignKeyConstraint(['system_id'], ['acs_system.system_id'], ),
    sa.PrimaryKeyConstraint('system_id', 'id')
    )
    op.create_table('acs_access_group',
    sa.Column('system_id', sa.Integer(), nullable=False),
    _key('id'),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.ForeignKeyConstraint(['system_id'], ['acs_system.system_id'], ),
    sa.PrimaryKeyConstraint('system_id', 'id')
    )
    op.create_table('acs_group_door',
    sa.Column('system_id', sa.Integer(), nullable=False),
    _key('group_id'),
    _key('door_id'),
    sa.ForeignKeyConstraint(['system_id', 'group_id'], ['acs_access_group.system_id', 'acs_access_group.id'], ),
    sa.ForeignKeyConstraint(['system_id', 'door_id'], ['acs_door.system_id', 'acs_door.id'], ),
    sa.PrimaryKeyConstraint('system_id', 'group_id', 'door_id')
    )
    op.create_table('acs_holder',
    sa.Column('system_id', sa.Integer(), nullable=False),
    _key('id'),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.ForeignKeyConstraint(['system_id'], ['acs_system.system_id'], ),
    sa.PrimaryKeyConstraint('system_id', 'id')
    )
    op.create_table('acs_holder_group',
    sa.Column('system_id', sa.Integer(), nullable=False),
    _key('holder_id'),
    _key('group_id'),
    sa.ForeignKeyConstraint(['system_id', 'holder_id'], ['acs_holder.system_id', 'acs_holder.id'], ),
    sa.ForeignKeyConstraint(['system_id', 'group_id'], ['acs_access_group.system_id', 'acs_access_group.id'], ),
    sa.PrimaryKeyConstraint('system_id', 'holder_id', 'group_id')
    )
    op.create_table('acs_tag',
    sa.Column('system_id', sa.Integer(), nullable=False),
    _key('number_key', 40),
    _key('number', 40),
    _key('holder_id', nullable=True),
    _key('state'),
    _key('tag_type', 40),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['system_id'], ['acs_system.system_id'], ),
    sa.ForeignKeyConstraint(['system_id', 'holder_id'], ['acs_holder.system_id', 'acs_holder.id'], ),
    sa.PrimaryKeyConstraint('system_id', 'number_key')
    )
    with op.batch_alter_table('acs_tag', schema=None) as batch_op:
        batch_op.create_index('ix_acs_tag_holder', ['system_id', 'holder_id'], unique=False)

    op.create_table('acs_door_phone_entry',
    sa.Column('system_id', sa.Integer(), nullable=False),
    _key('id'),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('phone_number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.ForeignKeyConstraint(['system_id'], ['acs_system.system_id'], ),
    sa.PrimaryKeyConstraint('system_id', 'id')
    )
    op.create_table('acs_system_user',
    sa.Column('system_id', sa.Integer(), nullable=False),
    _key('id'),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.ForeignKeyConstraint(['system_id'], ['acs_system.system_id'], ),
    sa.PrimaryKeyConstraint('system_id', 'id')
    )
    op.create_table('acs_service_account',
    sa.Column('system_id', sa.Integer(), nullable=False),
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('password_digest', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['system_id'], ['acs_system.system_id'], ),
    sa.PrimaryKeyConstraint('system_id', 'service', 'username')
    )
    op.create_table('acs_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('system_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    _key('kind'),
    _key('door_id', nullable=True),
    sa.Column('door_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    _key('tag_number', 40, nullable=True),
    _key('tag_key', 40, nullable=True),
    _key('holder_id', nullable=True),
    sa.Column('holder_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    _key('user_id', nullable=True),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['system_id'], ['acs_system.system_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('acs_event', schema=None) as batch_op:
        batch_op.create_index('ix_acs_event_at', ['system_id', 'at', 'id'], unique=False)
        batch_op.create_index('ix_acs_event_tag', ['system_id', 'tag_key', 'at'], unique=False)
        batch_op.create_index('ix_acs_event_door', ['system_id', 'door_id', 'at'], unique=False)
        batch_op.create_index('ix_acs_event_user', ['system_id', 'user_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('acs_event', schema=None) as batch_op:
        batch_op.drop_index('ix_acs_event_user')
        batch_op.drop_index('ix_acs_event_door')
        batch_op.drop_index('ix_acs_event_tag')
        batch_op.drop_index('ix_acs_event_at')
    op.drop_table('acs_event')
    op.drop_table('acs_service_account')
    op.drop_table('acs_system_user')
    op.drop_table('acs_door_phone_entry')
    with op.batch_alter_table('acs_tag', schema=None) as batch_op:
        batch_op.drop_index('ix_acs_tag_holder')
    op.drop_table('acs_tag')
    op.drop_table('acs_holder_group')
    op.drop_table('acs_holder')
    op.drop_table('acs_group_door')
    op.drop_table('acs_access_group')
    op.drop_table('acs_door')
    op.drop_table('acs_system')
