"""企业端 accounts (issue 19): ``enterprise_account`` (one per registry enterprise: pending, active, disabled or
refused, with its session generation), ``enterprise_contact`` (its contact persons, looked up by mobile and by
email at sign-in), ``enterprise_login_code`` (one-time codes, hashed, read by contact and by address within a
time window) and ``enterprise_invitation`` (the service officer's invitations, found by the token's hash).
New tables: nothing existing changes.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 12:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'enterprise_account',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enterprise_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('origin', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('confirmed_by', sa.String(length=64), nullable=True),
        sa.Column('confirmed_at', sa.DateTime(), nullable=True),
        sa.Column('refused_reason', sa.Text(), nullable=True),
        sa.Column('session_generation', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('enterprise_id'),
    )
    op.create_index('ix_enterprise_account_status', 'enterprise_account', ['status'])
    op.create_table(
        'enterprise_contact',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('mobile', sa.String(length=20), nullable=True),
        sa.Column('email', sa.String(length=255), nullable=True),
        sa.Column('mobile_verified', sa.Boolean(), nullable=False),
        sa.Column('email_verified', sa.Boolean(), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('session_generation', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['enterprise_account.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_enterprise_contact_account_id', 'enterprise_contact', ['account_id'])
    op.create_index('ix_enterprise_contact_mobile', 'enterprise_contact', ['mobile'])
    op.create_index('ix_enterprise_contact_email', 'enterprise_contact', ['email'])
    op.create_table(
        'enterprise_login_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('ip', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['contact_id'], ['enterprise_contact.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_enterprise_login_code_contact_at', 'enterprise_login_code', ['contact_id', 'created_at'])
    op.create_index('ix_enterprise_login_code_ip_at', 'enterprise_login_code', ['ip', 'created_at'])
    op.create_table(
        'enterprise_invitation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('group_key', sa.String(length=32), nullable=False),
        sa.Column('enterprise_id', sa.Integer(), nullable=False),
        sa.Column('contact_name', sa.String(length=50), nullable=False),
        sa.Column('mobile', sa.String(length=20), nullable=True),
        sa.Column('email', sa.String(length=255), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('invited_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_enterprise_invitation_group_key', 'enterprise_invitation', ['group_key'])
    op.create_index('ix_enterprise_invitation_enterprise_id', 'enterprise_invitation', ['enterprise_id'])


def downgrade() -> None:
    op.drop_index('ix_enterprise_invitation_enterprise_id', table_name='enterprise_invitation')
    op.drop_index('ix_enterprise_invitation_group_key', table_name='enterprise_invitation')
    op.drop_table('enterprise_invitation')
    op.drop_index('ix_enterprise_login_code_ip_at', table_name='enterprise_login_code')
    op.drop_index('ix_enterprise_login_code_contact_at', table_name='enterprise_login_code')
    op.drop_table('enterprise_login_code')
    op.drop_index('ix_enterprise_contact_email', table_name='enterprise_contact')
    op.drop_index('ix_enterprise_contact_mobile', table_name='enterprise_contact')
    op.drop_index('ix_enterprise_contact_account_id', table_name='enterprise_contact')
    op.drop_table('enterprise_contact')
    op.drop_index('ix_enterprise_account_status', table_name='enterprise_account')
    op.drop_table('enterprise_account')
