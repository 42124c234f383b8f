"""Reserved: circular objections and rectification reviews (issue 18 point 2). Filled in by the commit that builds it.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 11:00:00
"""

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
