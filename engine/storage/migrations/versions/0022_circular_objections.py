"""Objections to a circular's figures before approval (``circular_objection``: the unit, the figure, the value
it claims and why, and 区经济信息委's resolution — accepted with the corrected value, or refused with a
reason), indexed by circular and status and by unit. A new table: circulars drafted before have none.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 11:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'circular_objection',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('circular_id', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('figure', sa.String(length=40), nullable=False),
        sa.Column('figure_label', sa.String(length=40), nullable=False),
        sa.Column('computed', sa.Float(), nullable=True),
        sa.Column('claimed', sa.Float(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('resolution_note', sa.Text(), nullable=True),
        sa.Column('corrected', sa.Float(), nullable=True),
        sa.Column('raised_by', sa.String(length=64), nullable=False),
        sa.Column('raised_at', sa.DateTime(), nullable=False),
        sa.Column('resolved_by', sa.String(length=64), nullable=True),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['circular_id'], ['circular.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['department_id'], ['department.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_circular_objection_circular', 'circular_objection', ['circular_id', 'status'])
    op.create_index('ix_circular_objection_department_id', 'circular_objection', ['department_id'])


def downgrade() -> None:
    op.drop_index('ix_circular_objection_department_id', table_name='circular_objection')
    op.drop_index('ix_circular_objection_circular', table_name='circular_objection')
    op.drop_table('circular_objection')
