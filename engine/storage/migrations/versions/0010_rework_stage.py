"""problem_dispatch's 整改答复 step has its own stage, rework (it was handle)

The circular's figures choose steps by stage and process, no longer by element id; 整改答复 is a
department's step (overdue counts it) but not a handling task that falls due or is closed, so the
diagram gives it stage ``rework``. This brings the rows written under the earlier diagrams into line,
so the figures of past periods come out as before. Instances still running on an earlier version
of problem_dispatch give a new 整改答复 the old stage until they are migrated to the new version.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 08:00:00
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_DISPATCH_INSTANCES = """
    SELECT process_instance.id FROM process_instance
    JOIN process_version ON process_instance.version_id = process_version.id
    JOIN process_definition ON process_version.definition_id = process_definition.id
    WHERE process_definition.key = 'problem_dispatch'
"""


def _restage(old: str, new: str) -> None:
    op.execute(f"UPDATE human_task SET stage = '{new}' WHERE kind = 'bpmn' AND bpmn_id = 'rework' "
               f"AND stage = '{old}' AND instance_id IN ({_DISPATCH_INSTANCES})")


def upgrade() -> None:
    _restage("handle", "rework")


def downgrade() -> None:
    _restage("rework", "handle")
