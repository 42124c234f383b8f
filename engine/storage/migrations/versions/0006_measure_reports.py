"""measure reports

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 05:29:32.931396
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('measure_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('measure_no', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('lead_department', sa.String(length=100), nullable=False),
    sa.Column('lead_is_written', sa.Boolean(), nullable=False),
    sa.Column('report', sa.Text(), nullable=True),
    sa.Column('contributions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('assessment', sa.String(length=16), nullable=True),
    sa.Column('assessment_comment', sa.Text(), nullable=True),
    sa.Column('follow_up', sa.Text(), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ),
    sa.ForeignKeyConstraint(['measure_no'], ['measure.no'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('measure_no', 'period_start')
    )
    with op.batch_alter_table('measure_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_measure_report_measure_no'), ['measure_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_measure_report_period_end'), ['period_end'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('measure_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measure_report_period_end'))
        batch_op.drop_index(batch_op.f('ix_measure_report_measure_no'))

    op.drop_table('measure_report')
    
