"""reference data generations; inbox index on (department, status, due); compressed instance states

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
    # Instance states become zlib-compressed bytes (engine.storage.models.CompressedText). Existing rows keep
    # their plain UTF-8 JSON, which the column type still reads; they are compressed on their next save.
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.alter_column('state_json', existing_type=sa.Text(), type_=sa.LargeBinary(), existing_nullable=False,
                              postgresql_using="convert_to(state_json, 'UTF8')")


def downgrade() -> None:
    import zlib

    conn = op.get_bind()
    states = {}
    for row_id, value in conn.execute(sa.text('SELECT id, state_json FROM process_instance')):
        data = value if isinstance(value, (bytes, memoryview)) else str(value).encode('utf-8')
        data = bytes(data)
        states[row_id] = data.decode('utf-8') if data[:1] == b'{' else zlib.decompress(data).decode('utf-8')
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.alter_column('state_json', existing_type=sa.LargeBinary(), type_=sa.Text(), existing_nullable=False,
                              postgresql_using="encode(state_json, 'escape')")
    for row_id, text in states.items():
        conn.execute(sa.text('UPDATE process_instance SET state_json = :s WHERE id = :i'), {'s': text, 'i': row_id})
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_department_status_due')
    op.drop_table('reference_generation')
