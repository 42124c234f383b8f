"""The moments the scheduler asks about, indexed per district (issue 20, docs/districts.md): it asks each district
whether work is due and takes the districts in turns, so each due index leads with ``district_id`` — a district
with nothing due answers from its own part of the index, whatever another district has waiting.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-04 04:05:00
"""
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

# (table, the index before, its columns, the index now, its columns)
CHANGES = (
    ('process_instance', 'ix_process_instance_next_timer_at', ['next_timer_at'],
     'ix_process_instance_district_timer', ['district_id', 'next_timer_at']),
    ('human_task', 'ix_human_task_next_escalation', ['next_escalation_at'],
     'ix_human_task_district_escalation', ['district_id', 'next_escalation_at']),
    ('outbox_message', 'ix_outbox_status_next', ['status', 'next_attempt_at'],
     'ix_outbox_district_status_next', ['district_id', 'status', 'next_attempt_at']),
    ('process_schedule', 'ix_process_schedule_next_run_at', ['next_run_at'],
     'ix_process_schedule_district_next', ['district_id', 'next_run_at']),
    ('task_pause', 'ix_task_pause_check_at', ['check_at'], 'ix_task_pause_district_check', ['district_id', 'check_at']),
)


def upgrade() -> None:
    for table, old, _, new, columns in CHANGES:
        op.create_index(new, table, columns, unique=False)
        op.drop_index(old, table_name=table)


def downgrade() -> None:
    for table, old, old_columns, new, _ in CHANGES:
        op.create_index(old, table, old_columns, unique=False)
        op.drop_index(new, table_name=table)
