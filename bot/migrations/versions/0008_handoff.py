"""Handoff to hotline agents: conversations, console messages, notes, work orders,
call-back tickets (bot/handoff)

Revision ID: 0008_handoff
Revises: 0007_elsewhere
Create Date: 2026-12-01 13:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_handoff"
down_revision = "0007_elsewhere"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff_conversations",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agent_name", sa.String(length=64), nullable=True),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["staff_accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender"),
    )
    op.create_index("ix_handoff_conversations_state", "handoff_conversations", ["state"])
    op.create_index("ix_handoff_conversations_waiting_since", "handoff_conversations",
                    ["waiting_since"])
    op.create_table(
        "handoff_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=24), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_name", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["handoff_conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_handoff_messages_conversation_id", "handoff_messages",
                    ["conversation_id"])
    op.create_index("ix_handoff_messages_sender", "handoff_messages", ["sender"])
    op.create_table(
        "handoff_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=24), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["handoff_conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_handoff_notes_conversation_id", "handoff_notes", ["conversation_id"])
    op.create_table(
        "handoff_work_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=24), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["handoff_conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_index("ix_handoff_work_orders_conversation_id", "handoff_work_orders",
                    ["conversation_id"])
    op.create_table(
        "handoff_callbacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["handoff_conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_handoff_callbacks_conversation_id", "handoff_callbacks",
                    ["conversation_id"])


def downgrade() -> None:
    for table in ("handoff_callbacks", "handoff_work_orders", "handoff_notes",
                  "handoff_messages", "handoff_conversations"):
        op.drop_table(table)
