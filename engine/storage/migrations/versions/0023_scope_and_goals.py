"""The plan's scope and goals on the registry: ``enterprise.sector`` (二（一）'s 领域, indexed: admission and the
lists filter by it), ``key_field`` (主导产品所属重点支持领域), ``financial_type`` (a financial firm's 业态 under
《金融业企业划型标准规定》) and the 科技型企业 flag kept by 区科技局 (``tech_since``, ``tech_valid_until``).
Existing enterprises have none recorded: they are out of scope at admission until their sector is entered.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 11:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('enterprise') as batch:
        batch.add_column(sa.Column('sector', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('key_field', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('financial_type', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('tech_since', sa.Date(), nullable=True))
        batch.add_column(sa.Column('tech_valid_until', sa.Date(), nullable=True))
    op.create_index('ix_enterprise_sector', 'enterprise', ['sector'])
    op.create_index('ix_enterprise_tech_since', 'enterprise', ['tech_since'])


def downgrade() -> None:
    op.drop_index('ix_enterprise_tech_since', table_name='enterprise')
    op.drop_index('ix_enterprise_sector', table_name='enterprise')
    with op.batch_alter_table('enterprise') as batch:
        batch.drop_column('tech_valid_until')
        batch.drop_column('tech_since')
        batch.drop_column('financial_type')
        batch.drop_column('key_field')
        batch.drop_column('sector')
