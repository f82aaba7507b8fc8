"""Content versions, trainings, trained models and the live pointer (bot/content)

Revision ID: 0009_content
Revises: 0007_elsewhere
Create Date: 2026-12-01 13:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_content"
down_revision = "0008_handoff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("content_versions.id"), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("created_by", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("editors", sa.JSON(), nullable=False),
    )
    op.create_table(
        "content_trainings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("content_version_id", sa.Integer(), sa.ForeignKey("content_versions.id"),
                  nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("stage", sa.String(120), nullable=False),
        sa.Column("model_id", sa.String(64)),
        sa.Column("error", sa.Text()),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "content_models",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("rasa_model_id", sa.String(64), nullable=False, index=True),
        sa.Column("content_version_id", sa.Integer(), sa.ForeignKey("content_versions.id"),
                  nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("evaluation", sa.JSON()),
        sa.Column("trained_by", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float()),
        sa.Column("ever_live", sa.Integer(), nullable=False),
    )
    op.create_table(
        "content_live",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_id", sa.String(64), sa.ForeignKey("content_models.id"), nullable=False),
        sa.Column("published_by", sa.String(64)),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("content_live", "content_models", "content_trainings", "content_versions"):
        op.drop_table(table)
