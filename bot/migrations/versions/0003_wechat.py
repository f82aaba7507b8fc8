"""WeChat: shared access_token, pushed-message dedup, subscriptions, outbox claims

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 01:25:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_tokens",
        sa.Column("appid", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("appid"),
    )
    op.create_table(
        "wechat_inbound",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_wechat_inbound_openid", "wechat_inbound", ["openid"])
    op.create_index("ix_wechat_inbound_received_at", "wechat_inbound", ["received_at"])
    op.create_table(
        "mp_subscriptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("template_id", sa.String(length=128), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("openid", "template_id"),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("delivered_via", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("delivered_via")
        batch.drop_column("claimed_until")
    op.drop_table("mp_subscriptions")
    op.drop_index("ix_wechat_inbound_received_at", table_name="wechat_inbound")
    op.drop_index("ix_wechat_inbound_openid", table_name="wechat_inbound")
    op.drop_table("wechat_inbound")
    op.drop_table("wechat_tokens")
