"""联席会议 (issue 18): ``joint_meeting`` (one per joint_meeting instance: agenda, number 〔年〕第N次 unique per
year, attendance, topics) and ``joint_meeting_decision`` (each decision with its lead unit, deadline and the
problem item it became, unique), and an index on human_task (bpmn_id, status) for the agenda's open rulings
and ratings. New tables and an index only: existing rows need nothing.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 08:15:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'joint_meeting',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('agenda', JSON, nullable=False),
        sa.Column('year', sa.Integer(), nullable=True),
        sa.Column('seq', sa.Integer(), nullable=True),
        sa.Column('held_on', sa.Date(), nullable=True),
        sa.Column('place', sa.String(length=200), nullable=True),
        sa.Column('chair', sa.String(length=100), nullable=True),
        sa.Column('attendance', JSON, nullable=True),
        sa.Column('topics', JSON, nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('approved_by', sa.String(length=64), nullable=True),
        sa.Column('recorded_by', sa.String(length=64), nullable=True),
        sa.Column('recorded_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('instance_id'),
        sa.UniqueConstraint('year', 'seq', name='uq_joint_meeting_number'),
    )
    op.create_index('ix_joint_meeting_status', 'joint_meeting', ['status'], unique=False)
    op.create_index('ix_joint_meeting_held_on', 'joint_meeting', ['held_on'], unique=False)
    op.create_table(
        'joint_meeting_decision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('meeting_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('topic', sa.String(length=200), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('enterprise_name', sa.String(length=100), nullable=False),
        sa.Column('category', sa.String(length=8), nullable=False),
        sa.Column('lead_department_id', sa.Integer(), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=True),
        sa.Column('dispatched_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['meeting_id'], ['joint_meeting.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['lead_department_id'], ['department.id']),
        sa.ForeignKeyConstraint(['item_id'], ['process_instance.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('item_id'),
    )
    op.create_index('ix_joint_meeting_decision_meeting', 'joint_meeting_decision', ['meeting_id', 'position'],
                    unique=False)
    op.create_index('ix_human_task_bpmn_status', 'human_task', ['bpmn_id', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_human_task_bpmn_status', table_name='human_task')
    op.drop_index('ix_joint_meeting_decision_meeting', table_name='joint_meeting_decision')
    op.drop_table('joint_meeting_decision')
    op.drop_index('ix_joint_meeting_held_on', table_name='joint_meeting')
    op.drop_index('ix_joint_meeting_status', table_name='joint_meeting')
    op.drop_table('joint_meeting')
