"""Security: shared nonces, identity verifications, shared-data look-up audit

Revision ID: 0006_security
Revises: 0005_situations
Create Date: 2026-12-01 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_security"
down_revision = "0005_situations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_nonces",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_index("ix_seen_nonces_expires_at", "seen_nonces", ["expires_at"])
    op.create_table(
        "identity_verifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_index", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("ticket", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("id_index", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_identity_verifications_sender_index", "identity_verifications",
                    ["sender_index"])
    op.create_table(
        "shared_data_lookups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_index", sa.String(length=64), nullable=False),
        sa.Column("id_index", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_shared_data_lookups_sender_index", "shared_data_lookups", ["sender_index"])
    op.create_index("ix_shared_data_lookups_at", "shared_data_lookups", ["at"])


def downgrade() -> None:
    op.drop_index("ix_shared_data_lookups_at", table_name="shared_data_lookups")
    op.drop_index("ix_shared_data_lookups_sender_index", table_name="shared_data_lookups")
    op.drop_table("shared_data_lookups")
    op.drop_index("ix_identity_verifications_sender_index", table_name="identity_verifications")
    op.drop_table("identity_verifications")
    op.drop_index("ix_seen_nonces_expires_at", table_name="seen_nonces")
    op.drop_table("seen_nonces")
