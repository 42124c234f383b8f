"""Server-side session ends and login throttling instead of lock-out

``app_user.session_generation``: a session is valid only under the generation it was signed in with;
logout, a password change and an administrator's "sign out everywhere" bump it. ``login_reset_at``:
an administrator's 解除登录限制 (failures before it no longer slow the user down).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


# Plain ALTER TABLE (SQLite 3.35+ drops columns itself): a batch copy of app_user would drop the table
# that other tables' foreign keys point to.
def upgrade() -> None:
    op.add_column('app_user', sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))
    op.add_column('app_user', sa.Column('login_reset_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('app_user', 'login_reset_at')
    op.drop_column('app_user', 'session_generation')
