"""Row-level security the planner can estimate (issue 20, docs/districts.md and docs/performance.md).

0028's one policy per table, ``coalesce(setting, -1) IN (0, district_id)``, put an OR of the setting in every
query. PostgreSQL estimates an OR clause on its own: the district's share of the rows (1/38) multiplied in again
on top of the service layer's own ``district_id = …`` and on top of a unit's rows (a unit is one district's), so
at a million instances a unit's 2,300 open tasks were estimated at one and its inbox page sorted them all instead
of reading its index in order. Now each role has a policy of its own:

- ``district_isolation`` for ``zjtx_app`` (a district's work): ``district_id = coalesce(setting, -1)`` — one
  equality, which the planner folds together with the service layer's and with the extended statistics below;
- ``city_wide`` for ``zjtx_city`` (work across districts: the scheduler's probes, sign-in lookups, the city's
  views), which engine/storage/db.py switches to for the city-wide scope instead of the setting ``0``.

Unset, the setting still means no rows. Extended statistics (functional dependencies) tell the planner that a
row's unit, instance, user … determine its district, so that a unit's rows are not also counted as a 38th.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-04 19:30:00
"""
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

APP, CITY = 'zjtx_app', 'zjtx_city'
DISTRICT = "coalesce(nullif(current_setting('zjtx.district', true), '')::int, -1)"
OLD = f"{DISTRICT} IN (0, district_id)"
# table → the columns whose value determines the row's district (every foreign key but the shared measures')
DEPENDENT = {
    'api_token': ['user_id'], 'app_user': ['department_id'], 'attachment': ['instance_id', 'task_id', 'user_id'],
    'audit_record': ['instance_id', 'task_id'], 'circular': ['instance_id'],
    'circular_naming': ['department_id', 'item_id'], 'circular_objection': ['circular_id', 'department_id'],
    'comment': ['instance_id', 'task_id'], 'department_alias': ['department_id'],
    'enterprise': ['service_officer_id'], 'enterprise_account': ['enterprise_id'],
    'enterprise_change': ['enterprise_id'], 'enterprise_contact': ['account_id'],
    'enterprise_invitation': ['enterprise_id'], 'enterprise_login_code': ['contact_id'],
    'enterprise_year': ['enterprise_id'], 'enterprise_year_update': ['enterprise_id'],
    'escalation': ['task_id', 'instance_id', 'department_id'], 'guidance_gap': ['enterprise_id'],
    'guidance_visit': ['enterprise_id'],
    'human_task': ['instance_id', 'department_id', 'assignee_id', 'handler_id', 'completed_by_id'],
    'inbox_message': ['user_id'], 'incident': ['instance_id'], 'instance_message': ['instance_id'],
    'item_link': ['instance_id', 'enterprise_id', 'master_instance_id'], 'item_measure': ['instance_id'],
    'joint_meeting': ['instance_id'], 'joint_meeting_decision': ['meeting_id', 'lead_department_id'],
    'listed_supervision': ['item_id', 'lead_department_id'], 'listed_supervision_report': ['listing_id'],
    'measure_report': ['instance_id'], 'measure_unit': ['department_id'], 'notice_objection': ['instance_id'],
    'notification_preference': ['user_id'], 'outbox_message': ['user_id'],
    'process_instance': ['version_id', 'lead_department_id'], 'process_version': ['definition_id'],
    'task_pause': ['task_id', 'instance_id', 'department_id'], 'user_role': ['user_id'],
    'webhook_endpoint': ['department_id'],
}


def _scoped() -> list[str]:
    """Every table 0028 and later put under the policy (whatever revision made it)."""
    return list(op.get_bind().exec_driver_sql(
        "SELECT c.relname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE p.polname = 'district_isolation' AND n.nspname = current_schema() "
        "ORDER BY c.relname").scalars())


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        return
    op.execute(f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{CITY}') THEN CREATE ROLE {CITY} NOLOGIN; END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$""")
    op.execute(f"""DO $$ BEGIN
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN EXECUTE 'GRANT {CITY} TO '
            || quote_ident(current_user); END IF; END $$""")
    schema = op.get_bind().exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {CITY}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {CITY}")
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {CITY}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {CITY}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {CITY}")
    for table in _scoped():
        op.execute(f"DROP POLICY district_isolation ON {table}")
        op.execute(f"CREATE POLICY district_isolation ON {table} TO {APP} USING (district_id = {DISTRICT}) "
                   f"WITH CHECK (district_id = {DISTRICT})")
        op.execute(f"CREATE POLICY city_wide ON {table} TO {CITY} USING (true) WITH CHECK (true)")
    for table, columns in DEPENDENT.items():
        for column in columns:
            op.execute(f"CREATE STATISTICS IF NOT EXISTS st_{table}_{column}_district (dependencies) "
                       f"ON {column}, district_id FROM {table}")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        return
    for table, columns in DEPENDENT.items():
        for column in columns:
            op.execute(f"DROP STATISTICS IF EXISTS st_{table}_{column}_district")
    for table in _scoped():
        op.execute(f"DROP POLICY IF EXISTS city_wide ON {table}")
        op.execute(f"DROP POLICY district_isolation ON {table}")
        op.execute(f"CREATE POLICY district_isolation ON {table} USING ({OLD}) WITH CHECK ({OLD})")
