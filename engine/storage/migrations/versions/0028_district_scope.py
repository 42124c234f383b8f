"""Districts (issue 20, docs/districts.md): ``district_id`` on every table holding a district's data, every existing
row 黔江区's; the numbers and names a district gives (its units' names, process keys, business keys, circular and
letter numbers, schedule names) unique per district; on PostgreSQL the role ``zjtx_app`` the application works as,
and row-level security on every district table keyed by the session's ``zjtx.district`` setting.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 03:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

NEW = (
    'department_alias', 'app_user', 'user_role', 'measure_unit', 'api_token',
    'enterprise_account', 'enterprise_contact', 'enterprise_login_code', 'enterprise_invitation',
    'enterprise_year', 'enterprise_change', 'enterprise_year_update', 'notice_objection',
    'guidance_gap', 'guidance_visit', 'circular', 'circular_objection', 'circular_naming', 'measure_report',
    'process_definition', 'process_version', 'process_instance', 'human_task', 'escalation', 'process_schedule',
    'audit_record', 'incident', 'comment', 'attachment', 'task_pause', 'instance_message',
    'inbox_message', 'outbox_message', 'notification_preference', 'webhook_endpoint',
    'joint_meeting', 'joint_meeting_decision', 'listed_supervision', 'listed_supervision_report',
    'item_link', 'item_measure',
)
SCOPED = ('department', 'enterprise') + NEW

# table: [(name on SQLite by the naming convention below or its own, name on PostgreSQL, new name, old columns)]
PER_DISTRICT = {
    'department': [('uq_department_name', 'department_name_key', 'uq_department_district_name', ['name']),
                   ('uq_department_short_code', 'department_short_code_key', 'uq_department_district_short_code',
                    ['short_code'])],
    'department_alias': [('uq_department_alias_alias', 'department_alias_alias_key',
                          'uq_department_alias_district_alias', ['alias'])],
    'process_definition': [('uq_process_definition_key', 'process_definition_key_key',
                            'uq_process_definition_district_key', ['key'])],
    'process_instance': [('uq_process_instance_business_key', 'process_instance_business_key_key',
                          'uq_process_instance_district_business_key', ['business_key'])],
    'process_schedule': [('uq_process_schedule_name', 'process_schedule_name_key', 'uq_process_schedule_district_name',
                          ['name'])],
    'circular': [('uq_circular_year', 'circular_year_seq_key', 'uq_circular_district_year_seq', ['year', 'seq']),
                 ('uq_circular_number', 'circular_number_key', 'uq_circular_district_number', ['number'])],
    'measure_report': [('uq_measure_report_measure_no', 'measure_report_measure_no_period_start_key',
                        'uq_measure_report_district_period', ['measure_no', 'period_start'])],
    'joint_meeting': [('uq_joint_meeting_number', 'uq_joint_meeting_number', 'uq_joint_meeting_number',
                       ['year', 'seq'])],
    'listed_supervision': [('uq_listed_supervision_number', 'uq_listed_supervision_number',
                            'uq_listed_supervision_number', ['year', 'seq'])],
    'item_link': [('uq_item_link_external', 'uq_item_link_external', 'uq_item_link_external',
                   ['external_source', 'external_ref'])],
}
# SQLite keeps constraints declared without a name unnamed; batch mode reflects them under these names.
NAMING = {'uq': 'uq_%(table_name)s_%(column_0_name)s'}
FK_NAMING = {'fk': 'fk_%(table_name)s_%(column_0_name)s'}
ROLE = 'zjtx_app'
# 0: the city-wide scope (claims across districts, the city's read-only views); unset: no district, so no rows.
DISTRICT = "coalesce(nullif(current_setting('zjtx.district', true), '')::int, -1)"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table in NEW:
        if sqlite:  # a column reference, not a copy of the table (earlier downgrades drop columns in place)
            op.execute(f"ALTER TABLE {table} ADD COLUMN district_id INTEGER NOT NULL DEFAULT 1 REFERENCES district (id)")
            continue
        op.add_column(table, sa.Column('district_id', sa.Integer(), nullable=False, server_default='1'))
        op.create_foreign_key(f'fk_{table}_district_id', table, 'district', ['district_id'], ['id'])
    for table, constraints in PER_DISTRICT.items():
        with op.batch_alter_table(table, naming_convention=NAMING) as batch:
            for sqlite_name, pg_name, new_name, columns in constraints:
                batch.drop_constraint(sqlite_name if sqlite else pg_name, type_='unique')
                batch.create_unique_constraint(new_name, ['district_id', *columns])
    if not sqlite:
        _row_level_security()


def _row_level_security() -> None:
    # 0027 gave 黔江区 its id by hand: the next district's comes after it.
    op.execute("SELECT setval(pg_get_serial_sequence('district', 'id'), (SELECT max(id) FROM district))")
    op.execute(f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN CREATE ROLE {ROLE} NOLOGIN; END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$""")
    # The login user works as the role (engine/storage/db.py); a superuser may anyway, others need membership.
    op.execute(f"""DO $$ BEGIN
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN EXECUTE 'GRANT {ROLE} TO '
            || quote_ident(current_user); END IF; END $$""")
    # The schema the tables are in (public, or the benchmark's own by its search path).
    schema = op.get_bind().exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {ROLE}")
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {ROLE}")
    for table in SCOPED:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY district_isolation ON {table} USING ({DISTRICT} IN (0, district_id)) "
                   f"WITH CHECK ({DISTRICT} IN (0, district_id))")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if not sqlite:
        for table in SCOPED:
            op.execute(f"DROP POLICY IF EXISTS district_isolation ON {table}")
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for table, constraints in PER_DISTRICT.items():
        with op.batch_alter_table(table, naming_convention=NAMING) as batch:
            for sqlite_name, pg_name, new_name, columns in constraints:
                batch.drop_constraint(new_name, type_='unique')
                batch.create_unique_constraint(sqlite_name if sqlite else pg_name, columns)
    for table in NEW:
        if sqlite and table not in PER_DISTRICT:
            op.execute(f"ALTER TABLE {table} DROP COLUMN district_id")
            continue
        with op.batch_alter_table(table, naming_convention=FK_NAMING) as batch:
            batch.drop_constraint(f'fk_{table}_district_id', type_='foreignkey')
            batch.drop_column('district_id')
