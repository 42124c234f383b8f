"""Reserved: enterprise accounts, contacts and sign-in codes (issue 19). Filled in by the commit that builds it.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 12:05:00
"""

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
