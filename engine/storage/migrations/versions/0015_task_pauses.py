"""Task pauses (挂起): ``task_pause``, one row per pause of a task's clock while its department waits for
the enterprise, with who paused it, why, until when it expects to resume, the moment the scheduler checks
its limit, and how the deadline moved when it was resumed. A new table only: existing rows need nothing.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 06:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'task_pause',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('deadline_key', sa.String(length=200), nullable=False),
        sa.Column('paused_at', sa.DateTime(), nullable=False),
        sa.Column('paused_by', sa.String(length=64), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('expected_resume_on', sa.Date(), nullable=True),
        sa.Column('limit_days', sa.Integer(), nullable=False),
        sa.Column('due_at_paused', sa.DateTime(), nullable=True),
        sa.Column('check_at', sa.DateTime(), nullable=True),
        sa.Column('over_limit_at', sa.DateTime(), nullable=True),
        sa.Column('resumed_at', sa.DateTime(), nullable=True),
        sa.Column('resumed_by', sa.String(length=64), nullable=True),
        sa.Column('resume_note', sa.Text(), nullable=True),
        sa.Column('working_days', sa.Integer(), nullable=True),
        sa.Column('credited_days', sa.Integer(), nullable=True),
        sa.Column('due_at_resumed', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['task_id'], ['human_task.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['department_id'], ['department.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_task_pause_task_resumed', 'task_pause', ['task_id', 'resumed_at'], unique=False)
    op.create_index('ix_task_pause_deadline_key', 'task_pause', ['deadline_key', 'id'], unique=False)
    op.create_index('ix_task_pause_department_paused', 'task_pause', ['department_id', 'paused_at'], unique=False)
    op.create_index('ix_task_pause_paused_at', 'task_pause', ['paused_at'], unique=False)
    op.create_index('ix_task_pause_check_at', 'task_pause', ['check_at'], unique=False)
    op.create_index('ix_task_pause_instance_id', 'task_pause', ['instance_id'], unique=False)


def downgrade() -> None:
    for name in ('ix_task_pause_instance_id', 'ix_task_pause_check_at', 'ix_task_pause_paused_at',
                 'ix_task_pause_department_paused', 'ix_task_pause_deadline_key', 'ix_task_pause_task_resumed'):
        op.drop_index(name, table_name='task_pause')
    op.drop_table('task_pause')
