"""situations (情形引导), kinds of place, cities, bundle prerequisites

Revision ID: 0005_situations
Revises: 0004_staff
Create Date: 2026-12-01 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_situations"
down_revision = "0004_staff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("kb_bundle_items", sa.Column("where_note", sa.Text(), nullable=True))
    op.add_column("kb_bundle_items", sa.Column("keywords", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "kb_place_kinds",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("local_text", sa.Text(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "kb_cities",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("not_before", sa.JSON(), nullable=False),
        sa.Column("district_word", sa.String(length=20), nullable=False),
        sa.Column("districts", sa.JSON(), nullable=False),
        sa.Column("places", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "kb_item_places",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=130), nullable=False),
        sa.Column("place_kind_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["kb_bundle_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["place_kind_id"], ["kb_place_kinds.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "kb_bundle_guides",
        sa.Column("bundle_id", sa.String(length=64), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("exclusive", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["bundle_id"], ["kb_bundles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("bundle_id"),
    )
    op.create_table(
        "kb_bundle_requirements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bundle_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("requires_bundle_id", sa.String(length=64), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("unless", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["bundle_id"], ["kb_bundles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requires_bundle_id"], ["kb_bundles.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("kb_bundle_requirements")
    op.drop_table("kb_bundle_guides")
    op.drop_table("kb_item_places")
    op.drop_table("kb_cities")
    op.drop_table("kb_place_kinds")
    with op.batch_alter_table("kb_bundle_items") as batch:
        batch.drop_column("keywords")
        batch.drop_column("where_note")
