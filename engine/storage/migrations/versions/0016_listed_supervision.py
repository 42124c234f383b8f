"""Supervision by people: ``listed_supervision`` (挂牌督办 of an item: slip colour, reason, 批示, the new
deadline, the report interval, the 督办函's number, unique per year and sequence), its progress reports
``listed_supervision_report``, and ``circular_naming`` (the office's choice to name a unit in the
circular, read by period through its indexed ``named_at``). New tables only: existing rows need nothing.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 06:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'listed_supervision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('lead_department_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('colour', sa.String(length=4), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('report_every', sa.Integer(), nullable=False),
        sa.Column('first_report_due', sa.Date(), nullable=True),
        sa.Column('next_report_due', sa.Date(), nullable=True),
        sa.Column('instruction', sa.Text(), nullable=True),
        sa.Column('instruction_by', sa.String(length=64), nullable=True),
        sa.Column('instruction_at', sa.DateTime(), nullable=True),
        sa.Column('year', sa.Integer(), nullable=True),
        sa.Column('seq', sa.Integer(), nullable=True),
        sa.Column('number', sa.String(length=64), nullable=True),
        sa.Column('issued_at', sa.DateTime(), nullable=True),
        sa.Column('issued_by', sa.String(length=64), nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('started_by', sa.String(length=64), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.Column('ended_by', sa.String(length=64), nullable=True),
        sa.Column('end_note', sa.Text(), nullable=True),
        sa.Column('named_in_circular', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['process_instance.id']),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id']),
        sa.ForeignKeyConstraint(['lead_department_id'], ['department.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('instance_id'),
        sa.UniqueConstraint('year', 'seq', name='uq_listed_supervision_number'),
    )
    op.create_index('ix_listed_supervision_item', 'listed_supervision', ['item_id', 'status'], unique=False)
    op.create_index('ix_listed_supervision_status', 'listed_supervision', ['status'], unique=False)
    op.create_table(
        'listed_supervision_report',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('listing_id', sa.Integer(), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=False),
        sa.Column('submitted_at', sa.DateTime(), nullable=False),
        sa.Column('submitted_by', sa.String(length=64), nullable=False),
        sa.Column('progress', sa.String(length=16), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=True),
        sa.Column('colour', sa.String(length=4), nullable=True),
        sa.Column('review_comment', sa.Text(), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(), nullable=True),
        sa.Column('reviewed_by', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['listing_id'], ['listed_supervision.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_listed_supervision_report_listing_id', 'listed_supervision_report', ['listing_id'],
                    unique=False)
    op.create_table(
        'circular_naming',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('named_at', sa.DateTime(), nullable=False),
        sa.Column('named_by', sa.String(length=64), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=True),
        sa.Column('task_id', sa.Integer(), nullable=True),
        sa.Column('listing_id', sa.Integer(), nullable=True),
        sa.Column('colour', sa.String(length=4), nullable=True),
        sa.Column('matter', sa.String(length=200), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['department_id'], ['department.id']),
        sa.ForeignKeyConstraint(['item_id'], ['process_instance.id']),
        sa.ForeignKeyConstraint(['task_id'], ['human_task.id']),
        sa.ForeignKeyConstraint(['listing_id'], ['listed_supervision.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_circular_naming_named_at', 'circular_naming', ['named_at'], unique=False)
    op.create_index('ix_circular_naming_department_id', 'circular_naming', ['department_id'], unique=False)
    op.create_index('ix_circular_naming_item_id', 'circular_naming', ['item_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_circular_naming_item_id', table_name='circular_naming')
    op.drop_index('ix_circular_naming_department_id', table_name='circular_naming')
    op.drop_index('ix_circular_naming_named_at', table_name='circular_naming')
    op.drop_table('circular_naming')
    op.drop_index('ix_listed_supervision_report_listing_id', table_name='listed_supervision_report')
    op.drop_table('listed_supervision_report')
    op.drop_index('ix_listed_supervision_status', table_name='listed_supervision')
    op.drop_index('ix_listed_supervision_item', table_name='listed_supervision')
    op.drop_table('listed_supervision')
