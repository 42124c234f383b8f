"""Merged items (合并件随主件办结): ``item_link.master_instance_id``, the item a duplicate was merged into
(nullable, indexed: the master's completion finds its merged items by it), and ``instance_message``, the
messages the engine delivers to a waiting instance (the master's outcome to each merged item), kept until
delivered. Existing rows need nothing: items merged before this change ended at once and have no master.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 06:40:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    # SQLite: a batch copy (nothing refers to item_link), so the reference is a table constraint with its
    # ON DELETE, as the model declares it.
    with op.batch_alter_table('item_link') as batch:
        batch.add_column(sa.Column('master_instance_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_item_link_master_instance_id', 'process_instance', ['master_instance_id'], ['id'],
                                 ondelete='SET NULL')
    op.create_index('ix_item_link_master_instance_id', 'item_link', ['master_instance_id'], unique=False)
    op.create_table(
        'instance_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('payload', JSON, nullable=True),
        sa.Column('sender_instance_id', sa.Integer(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=False),
        sa.Column('delivered_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['sender_instance_id'], ['process_instance.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_instance_message_pending', 'instance_message', ['instance_id', 'delivered_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_instance_message_pending', table_name='instance_message')
    op.drop_table('instance_message')
    op.drop_index('ix_item_link_master_instance_id', table_name='item_link')
    with op.batch_alter_table('item_link') as batch:
        batch.drop_constraint('fk_item_link_master_instance_id', type_='foreignkey')
        batch.drop_column('master_instance_id')
