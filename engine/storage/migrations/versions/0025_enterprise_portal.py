"""The enterprise portal (issue 19). The pool part: ``enterprise_year_update`` (last year's figures an
enterprise submits, pending until its service officer confirms or refuses them; indexed by enterprise and by
status) and ``notice_objection`` (objections anyone files against an admission in its 公示, indexed by the
admission). The requests and ratings part adds its tables here too.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 12:05:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    # -- pool: yearly figures from the enterprise, objections to a public notice --
    op.create_table(
        'enterprise_year_update',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enterprise_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('figures', JSON, nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=True),
        sa.Column('submitted_by', sa.String(length=100), nullable=False),
        sa.Column('submitted_at', sa.DateTime(), nullable=False),
        sa.Column('decided_by', sa.String(length=64), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_enterprise_year_update_enterprise', 'enterprise_year_update', ['enterprise_id', 'id'])
    op.create_index('ix_enterprise_year_update_status', 'enterprise_year_update', ['status', 'submitted_at'])
    op.create_table(
        'notice_objection',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('contact', sa.String(length=100), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.Column('raised_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notice_objection_instance', 'notice_objection', ['instance_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_notice_objection_instance', table_name='notice_objection')
    op.drop_table('notice_objection')
    op.drop_index('ix_enterprise_year_update_status', table_name='enterprise_year_update')
    op.drop_index('ix_enterprise_year_update_enterprise', table_name='enterprise_year_update')
    op.drop_table('enterprise_year_update')
