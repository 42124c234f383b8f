"""Reserved for issue 18: 联席会议 (joint meetings). Filled in with the models it adds (a no-op until then).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 08:15:00
"""

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
