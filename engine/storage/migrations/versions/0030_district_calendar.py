"""District calendar overrides (issue 20, docs/districts.md): the national calendar (the State Council's notices,
``calendar_day``) stays shared; a district's own 调休 notice or a day its administrators change is the district's
(``district_calendar_day``), applied over the national days in its deadlines only. Days administrators set before
districts existed were 黔江区's (the only district then) and move to it.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-04 19:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

DISTRICT = "coalesce(nullif(current_setting('zjtx.district', true), '')::int, -1)"


def upgrade() -> None:
    op.create_table(
        'district_calendar_day',
        sa.Column('district_id', sa.Integer(), sa.ForeignKey('district.id'), primary_key=True, server_default='1'),
        sa.Column('day', sa.Date(), primary_key=True),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('workday', sa.Boolean(), nullable=False),
        sa.Column('name', sa.String(100), nullable=True),
        sa.Column('set_by', sa.String(64), nullable=True),
        sa.Column('set_at', sa.DateTime(), nullable=True),
    )
    op.execute("INSERT INTO district_calendar_day (district_id, day, year, workday, name, set_by) "
               "SELECT 1, day, year, workday, name, 'admin' FROM calendar_day WHERE source = 'admin'")
    op.execute("DELETE FROM calendar_day WHERE source = 'admin'")
    if op.get_bind().dialect.name != 'sqlite':
        op.execute("ALTER TABLE district_calendar_day ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE district_calendar_day FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY district_isolation ON district_calendar_day USING ({DISTRICT} IN (0, district_id)) "
                   f"WITH CHECK ({DISTRICT} IN (0, district_id))")


def downgrade() -> None:
    op.execute("INSERT INTO calendar_day (day, year, workday, name, source) "
               "SELECT day, year, workday, name, 'admin' FROM district_calendar_day WHERE district_id = 1 "
               "AND day NOT IN (SELECT day FROM calendar_day)")
    op.drop_table('district_calendar_day')
