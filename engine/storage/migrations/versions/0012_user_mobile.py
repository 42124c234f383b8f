"""A user's mobile number, to log in with (besides the user name and the Chinese name)

``app_user.mobile``: nullable, unique (a unique index, so that SQLite adds it without copying the table).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 15:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


# Plain ALTER TABLE (see 0011): a batch copy of app_user would drop the table other tables point to.
def upgrade() -> None:
    op.add_column('app_user', sa.Column('mobile', sa.String(length=20), nullable=True))
    op.create_index('ix_app_user_mobile', 'app_user', ['mobile'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_app_user_mobile', table_name='app_user')
    op.drop_column('app_user', 'mobile')
