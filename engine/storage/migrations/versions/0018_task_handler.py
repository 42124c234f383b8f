"""A task's 承办人: ``human_task.handler_id``, the staff member of the department the liaison assigned the
task to (转办). Nullable, indexed; existing rows have none.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 07:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


# Plain ALTER TABLE (see 0011): a batch copy of human_task would drop the table other tables point to.
# SQLite takes the reference inline in ADD COLUMN, which Alembic does not emit for it.
def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE human_task ADD COLUMN handler_id INTEGER REFERENCES app_user (id)')
    else:
        op.add_column('human_task', sa.Column('handler_id', sa.Integer(), sa.ForeignKey('app_user.id'),
                                              nullable=True))
    op.create_index('ix_human_task_handler_id', 'human_task', ['handler_id'])


def downgrade() -> None:
    op.drop_index('ix_human_task_handler_id', table_name='human_task')
    op.drop_column('human_task', 'handler_id')
