"""Open tasks in the order their lists show them (issue 21's P3): partial indexes of a unit's open tasks by deadline
and by creation, so a unit's list of open tasks (all of them, due soon, overdue; the department list of the API and
``zjtx tasks``) reads its page in index order instead of sorting every open task of the unit (two statuses make
two runs of the (department, status, …) indexes, which no index gives in one order). Completed tasks, the most
of them over the years, are not in these indexes at all.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-04 20:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('to_sign', 'in_progress')")  # engine.runtime.projection.OPEN_STATUSES, literally


def upgrade() -> None:
    op.create_index('ix_human_task_open_department_due', 'human_task', ['department_id', 'due_at', 'id'],
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index('ix_human_task_open_department_created', 'human_task', ['department_id', 'created_at', 'id'],
                    postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    op.drop_index('ix_human_task_open_department_created', 'human_task')
    op.drop_index('ix_human_task_open_department_due', 'human_task')
