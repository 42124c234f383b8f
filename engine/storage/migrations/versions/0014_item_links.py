"""An item's links: the registry enterprise, the measures it concerns, another system's reference

``item_link``: one row per linked item (problem dispatch): the enterprise picked or added at
registration, and ``external_source``/``external_ref`` of an item another system sent (a 12345 work
order), unique together so the same work order sent twice is one item. ``item_measure``: the policy
measures an item concerns. New tables only: the existing rows need nothing.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'item_link',
        sa.Column('instance_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('enterprise_id', sa.Integer(), nullable=True),
        sa.Column('external_source', sa.String(length=32), nullable=True),
        sa.Column('external_ref', sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('instance_id'),
        sa.UniqueConstraint('external_source', 'external_ref', name='uq_item_link_external'),
    )
    op.create_index('ix_item_link_enterprise_id', 'item_link', ['enterprise_id'], unique=False)
    op.create_table(
        'item_measure',
        sa.Column('instance_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('measure_no', sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['measure_no'], ['measure.no']),
        sa.PrimaryKeyConstraint('instance_id', 'measure_no'),
    )
    op.create_index('ix_item_measure_measure', 'item_measure', ['measure_no', 'instance_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_item_measure_measure', table_name='item_measure')
    op.drop_table('item_measure')
    op.drop_index('ix_item_link_enterprise_id', table_name='item_link')
    op.drop_table('item_link')
