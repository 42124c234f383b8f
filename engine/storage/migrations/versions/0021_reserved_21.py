"""Reserved for issue 18: 拟培育库 guidance (gaps and visits). Filled in with the models it adds (a no-op until then).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 08:15:00
"""

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
