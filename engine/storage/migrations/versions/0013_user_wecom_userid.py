"""A user's 企业微信/政务微信 account (UserID), for individual work notices as application messages

``app_user.wecom_userid``: nullable; the channel notifications/channels/wecom.py sends to it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 16:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


# Plain ALTER TABLE (see 0011): a batch copy of app_user would drop the table other tables point to.
def upgrade() -> None:
    op.add_column('app_user', sa.Column('wecom_userid', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('app_user', 'wecom_userid')
