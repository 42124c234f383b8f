"""City templates (issue 20, docs/districts.md): a district's process version records the city's template version it
was made from (adopted as it is, or edited from it), so the designer can show where it came from, what differs and
when the city has a newer one.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04 03:55:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':  # a column reference, not a copy of the table
        op.execute("ALTER TABLE process_version ADD COLUMN derived_from_version_id INTEGER "
                   "REFERENCES process_version (id)")
        return
    op.add_column('process_version', sa.Column('derived_from_version_id', sa.Integer(), nullable=True))
    op.create_foreign_key('fk_process_version_derived_from', 'process_version', 'process_version',
                          ['derived_from_version_id'], ['id'])


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("ALTER TABLE process_version DROP COLUMN derived_from_version_id")
        return
    op.drop_constraint('fk_process_version_derived_from', 'process_version', type_='foreignkey')
    op.drop_column('process_version', 'derived_from_version_id')
