"""Reserved: the enterprise portal's requests, ratings and public-notice objections (issue 19). Filled in by the commit that builds it.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 12:05:00
"""

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
