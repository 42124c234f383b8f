"""enterprise registry

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 05:03:53.487113
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('enterprise',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('registered_on', sa.Date(), nullable=True),
    sa.Column('in_district', sa.Boolean(), nullable=True),
    sa.Column('independent_legal_person', sa.Boolean(), nullable=True),
    sa.Column('industry', sa.String(length=40), nullable=True),
    sa.Column('employees', sa.Integer(), nullable=True),
    sa.Column('tier', sa.String(length=20), nullable=False),
    sa.Column('tier_since', sa.Date(), nullable=True),
    sa.Column('tier_valid_until', sa.Date(), nullable=True),
    sa.Column('in_pool', sa.Boolean(), nullable=False),
    sa.Column('pool_since', sa.Date(), nullable=True),
    sa.Column('pool_valid_until', sa.Date(), nullable=True),
    sa.Column('service_officer_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['service_officer_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uscc')
    )
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_in_pool'), ['in_pool'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_industry'), ['industry'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_tier'), ['tier'], unique=False)

    op.create_table('enterprise_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('enterprise_change', schema=None) as batch_op:
        batch_op.create_index('ix_enterprise_change_enterprise', ['enterprise_id', 'id'], unique=False)

    op.create_table('enterprise_year',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('revenue', sa.Float(), nullable=True),
    sa.Column('rd_expense', sa.Float(), nullable=True),
    sa.Column('net_profit', sa.Float(), nullable=True),
    sa.Column('total_assets', sa.Float(), nullable=True),
    sa.Column('total_liabilities', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('enterprise_id', 'year')
    )
    with op.batch_alter_table('enterprise_year', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_year_enterprise_id'), ['enterprise_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('enterprise_year', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprise_year_enterprise_id'))

    op.drop_table('enterprise_year')
    with op.batch_alter_table('enterprise_change', schema=None) as batch_op:
        batch_op.drop_index('ix_enterprise_change_enterprise')

    op.drop_table('enterprise_change')
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprise_tier'))
        batch_op.drop_index(batch_op.f('ix_enterprise_name'))
        batch_op.drop_index(batch_op.f('ix_enterprise_industry'))
        batch_op.drop_index(batch_op.f('ix_enterprise_in_pool'))

    op.drop_table('enterprise')
    
