"""Issue 18: 推荐申报 (recognition batches). The recognition's end is indexed (the expiry reminder finds the
recognitions ending within six months by it) and the end already reminded of is kept (told once).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 08:15:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enterprise") as batch:
        batch.add_column(sa.Column("tier_reminded_for", sa.Date(), nullable=True))
    op.create_index("ix_enterprise_tier_valid_until", "enterprise", ["tier_valid_until"])


def downgrade() -> None:
    op.drop_index("ix_enterprise_tier_valid_until", table_name="enterprise")
    with op.batch_alter_table("enterprise") as batch:
        batch.drop_column("tier_reminded_for")
