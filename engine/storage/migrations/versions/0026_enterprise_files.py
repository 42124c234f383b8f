"""Files an enterprise sends through the portal name the contact who sent them (``attachment.contact_id``), not a
staff account: ``attachment.user_id`` becomes optional (no user = sent by the enterprise). The portal's stand-in
account ``qiye_portal`` (inactive, no role) that such files named until now is dropped, its files moved over.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 14:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

STAND_IN = "(SELECT id FROM app_user WHERE username = 'qiye_portal')"


def upgrade() -> None:
    # SQLite: a batch copy (nothing refers to attachment), so the reference is a table constraint.
    with op.batch_alter_table('attachment') as batch:
        batch.alter_column('user_id', existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column('contact_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_attachment_contact_id', 'enterprise_contact', ['contact_id'], ['id'],
                                 ondelete='SET NULL')
    op.execute(f"UPDATE attachment SET user_id = NULL WHERE user_id = {STAND_IN}")
    op.execute("DELETE FROM app_user WHERE username = 'qiye_portal' "
               "AND NOT EXISTS (SELECT 1 FROM attachment WHERE attachment.user_id = app_user.id)")


def downgrade() -> None:
    op.execute("INSERT INTO app_user (username, display_name, department_id, password_hash, active, "
               "session_generation, created_at) SELECT 'qiye_portal', '企业（企业服务平台）', "
               "(SELECT id FROM department ORDER BY id LIMIT 1), '!', false, 0, CURRENT_TIMESTAMP "
               "WHERE EXISTS (SELECT 1 FROM attachment WHERE user_id IS NULL) "
               "AND NOT EXISTS (SELECT 1 FROM app_user WHERE username = 'qiye_portal')")
    op.execute(f"UPDATE attachment SET user_id = {STAND_IN} WHERE user_id IS NULL")
    with op.batch_alter_table('attachment') as batch:
        batch.drop_constraint('fk_attachment_contact_id', type_='foreignkey')
        batch.drop_column('contact_id')
        batch.alter_column('user_id', existing_type=sa.Integer(), nullable=False)
