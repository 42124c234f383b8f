"""reference data generations; inbox index on (department, status, due)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 07:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        'reference_generation',
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('generation', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('kind'),
    )
    op.bulk_insert(table, [{'kind': 'org', 'generation': 1}, {'kind': 'calendar', 'generation': 1}])
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_department_status_due', ['department_id', 'status', 'due_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_department_status_due')
    op.drop_table('reference_generation')
