"""拟培育库 guidance: ``guidance_gap`` (one row per enterprise one criterion short of the cultivation standard,
indexed by department; refreshed when the enterprise's figures are saved) and ``guidance_visit`` (the industry
department's recorded visits). New tables: existing enterprises get their gap on their next save.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 08:15:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'guidance_gap',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enterprise_id', sa.Integer(), nullable=False),
        sa.Column('enterprise_name', sa.String(length=200), nullable=False),
        sa.Column('department', sa.String(length=100), nullable=False),
        sa.Column('criterion', sa.String(length=40), nullable=False),
        sa.Column('summary', sa.String(length=500), nullable=False),
        sa.Column('gaps', JSON, nullable=False),
        sa.Column('figures_year', sa.Integer(), nullable=False),
        sa.Column('computed_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('enterprise_id'),
    )
    op.create_index('ix_guidance_gap_department', 'guidance_gap', ['department', 'enterprise_name'])
    op.create_table(
        'guidance_visit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enterprise_id', sa.Integer(), nullable=False),
        sa.Column('department', sa.String(length=100), nullable=False),
        sa.Column('visited_on', sa.Date(), nullable=False),
        sa.Column('visitors', sa.String(length=200), nullable=False),
        sa.Column('advice', sa.Text(), nullable=False),
        sa.Column('next_step', sa.Text(), nullable=False),
        sa.Column('recorded_by', sa.String(length=64), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_guidance_visit_enterprise', 'guidance_visit', ['enterprise_id', 'visited_on'])


def downgrade() -> None:
    op.drop_index('ix_guidance_visit_enterprise', table_name='guidance_visit')
    op.drop_table('guidance_visit')
    op.drop_index('ix_guidance_gap_department', table_name='guidance_gap')
    op.drop_table('guidance_gap')
