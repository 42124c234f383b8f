"""Reserved: enterprise scope, 重点支持 field, 科技型企业 flag (issue 18 point 6). Filled in by the commit that builds it.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 11:00:00
"""

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
