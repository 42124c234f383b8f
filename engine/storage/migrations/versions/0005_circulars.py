"""circulars

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 05:20:07.091352
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('circular',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=True),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('figures', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('published_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number'),
    sa.UniqueConstraint('year', 'seq')
    )
    with op.batch_alter_table('circular', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_circular_status'), ['status'], unique=False)

    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lead_department_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_process_instance_lead_department_id'), ['lead_department_id'], unique=False)
        batch_op.create_foreign_key('fk_process_instance_lead_department', 'department', ['lead_department_id'], ['id'])

    


def downgrade() -> None:
    
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint('fk_process_instance_lead_department', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_process_instance_lead_department_id'))
        batch_op.drop_column('lead_department_id')

    with op.batch_alter_table('circular', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_circular_status'))

    op.drop_table('circular')
    
