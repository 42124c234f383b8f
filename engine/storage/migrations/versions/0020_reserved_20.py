"""Reserved for issue 18: 推荐申报 (recognition batches). Filled in with the models it adds (a no-op until then).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 08:15:00
"""

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
