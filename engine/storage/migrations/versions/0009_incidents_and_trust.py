"""incidents; an instance's failed attempts and last error; trusted process versions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 08:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'incident',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('schedule_id', sa.Integer(), nullable=True),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('element', sa.String(length=128), nullable=True),
        sa.Column('element_name', sa.String(length=200), nullable=True),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.Column('resolved_by', sa.String(length=64), nullable=True),
        sa.Column('resolution', sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['schedule_id'], ['process_schedule.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['message_id'], ['outbox_message.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('incident', schema=None) as batch_op:
        # Open incidents newest first (resolved_at IS NULL ORDER BY created_at DESC, id DESC) read this
        # index in order. Partial: PostgreSQL reads (resolved_at, created_at) in order only after "=".
        batch_op.create_index('ix_incident_open_created', ['created_at', 'id'], unique=False,
                              postgresql_where=sa.text('resolved_at IS NULL'),
                              sqlite_where=sa.text('resolved_at IS NULL'))
        batch_op.create_index('ix_incident_instance_open', ['instance_id', 'resolved_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_schedule_id'), ['schedule_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_message_id'), ['message_id'], unique=False)

    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))

    with op.batch_alter_table('process_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trusted', sa.Boolean(), nullable=False, server_default=sa.false()))
    # Every stored version starts untrusted, whoever uploaded it: before this revision scripts caused
    # effects directly, and those helpers are gone, so trusting old versions would keep nothing running
    # but would trust whatever a designer once uploaded. Deploying the bundled processes again
    # (`make run`, `zjtx deploy processes/*.bpmn`) stores their new versions as trusted.


def downgrade() -> None:
    with op.batch_alter_table('process_version', schema=None) as batch_op:
        batch_op.drop_column('trusted')
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_column('last_error')
        batch_op.drop_column('failed_attempts')
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_message_id'))
        batch_op.drop_index(batch_op.f('ix_incident_schedule_id'))
        batch_op.drop_index('ix_incident_instance_open')
        batch_op.drop_index('ix_incident_open_created')
    op.drop_table('incident')
