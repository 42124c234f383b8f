"""Districts (issue 20, docs/districts.md): the ``district`` table, seeded with 黔江区 (division code 500114), and
``district_id`` on the organisation's units and the enterprise registry, every existing row 黔江区's. The other
tables follow with the service layer's filters and PostgreSQL's row-level security.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03 15:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

SCOPED = ('department', 'enterprise')


def upgrade() -> None:
    op.create_table(
        'district',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=12), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.execute("INSERT INTO district (id, code, name, kind, active, created_at) "
               "VALUES (1, '500114', '黔江区', '区', true, CURRENT_TIMESTAMP)")
    for table in SCOPED:
        # SQLite: a batch copy, so the reference is a table constraint (nothing refers to it by position)
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('district_id', sa.Integer(), nullable=False, server_default='1'))
            batch.create_foreign_key(f'fk_{table}_district_id', 'district', ['district_id'], ['id'])
        op.create_index(f'ix_{table}_district_id', table, ['district_id'], unique=False)


def downgrade() -> None:
    for table in SCOPED:
        op.drop_index(f'ix_{table}_district_id', table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f'fk_{table}_district_id', type_='foreignkey')
            batch.drop_column('district_id')
    op.drop_table('district')
