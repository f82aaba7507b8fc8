"""SQLAlchemy models. The knowledge base is content loaded from data/bundles/*.yml."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


class Department(Base):
    __tablename__ = "kb_departments"

    id = Column(String(64), primary_key=True)
    name = Column(String(100), nullable=False)
    national_name = Column(String(100), nullable=False)
    where = Column(Text, nullable=False)


class Material(Base):
    """A document (材料) that items may require, catalogued once."""

    __tablename__ = "kb_materials"

    id = Column(String(64), primary_key=True)
    name = Column(Text, nullable=False)
    aliases = Column(JSON, nullable=False, default=list)
    note = Column(Text)
    e_certificate = Column(Text)
    is_form = Column(Boolean, nullable=False, default=False)


class Bundle(Base):
    """One 一件事: a bundle of items handled by several departments."""

    __tablename__ = "kb_bundles"

    id = Column(String(64), primary_key=True)
    name = Column(String(100), nullable=False)
    audience = Column(String(20), nullable=False)
    description = Column(Text, nullable=False)
    lead_department_id = Column(ForeignKey("kb_departments.id"), nullable=False)
    channels = Column(JSON, nullable=False, default=list)
    notes = Column(JSON, nullable=False, default=list)
    inferred = Column(JSON, nullable=False, default=list)
    position = Column(Integer, nullable=False, default=0)
    source_file = Column(String(255), nullable=False)

    lead_department = relationship(Department)
    items = relationship(
        "BundleItem", back_populates="bundle", order_by="BundleItem.position"
    )
    synonyms = relationship("Synonym", back_populates="bundle")


class BundleItem(Base):
    """An item (事项) as part of a bundle: the bundle–item link with its rules.

    `choice` is optional, mandatory or parallel_required; items sharing a
    `parallel_group` must be chosen together (法律法规规定应当并行办理).
    """

    __tablename__ = "kb_bundle_items"
    __table_args__ = (UniqueConstraint("bundle_id", "key"),)

    id = Column(String(130), primary_key=True)  # "<bundle>.<item>"
    bundle_id = Column(ForeignKey("kb_bundles.id", ondelete="CASCADE"), nullable=False)
    key = Column(String(64), nullable=False)
    name = Column(Text, nullable=False)
    department_id = Column(ForeignKey("kb_departments.id"), nullable=False)
    position = Column(Integer, nullable=False)
    choice = Column(String(20), nullable=False, default="optional")
    parallel_group = Column(String(64))
    first_step = Column(Boolean, nullable=False, default=False)
    in_national_list = Column(Boolean, nullable=False, default=True)
    in_guangdong_list = Column(Boolean, nullable=False, default=True)
    working_days = Column(Float)
    time_limit_committed = Column(Text)
    time_limit_statutory = Column(Text)
    fee = Column(Text, nullable=False)
    online = Column(String(10), nullable=False)
    online_note = Column(Text)
    results = Column(JSON, nullable=False, default=list)
    produces = Column(JSON, nullable=False, default=list)
    notes = Column(JSON, nullable=False, default=list)
    inferred = Column(JSON, nullable=False, default=list)

    bundle = relationship(Bundle, back_populates="items")
    department = relationship(Department)
    materials = relationship(
        "ItemMaterial", back_populates="item", order_by="ItemMaterial.position"
    )
    prerequisites = relationship(
        "ItemPrerequisite",
        back_populates="item",
        foreign_keys="ItemPrerequisite.item_id",
        order_by="ItemPrerequisite.position",
    )


class ItemMaterial(Base):
    __tablename__ = "kb_item_materials"

    id = Column(Integer, primary_key=True, autoincrement=True)
    item_id = Column(ForeignKey("kb_bundle_items.id", ondelete="CASCADE"), nullable=False)
    material_id = Column(ForeignKey("kb_materials.id"), nullable=False)
    holder = Column(String(50), nullable=False)
    note = Column(Text)
    conditional = Column(Boolean, nullable=False, default=False)
    position = Column(Integer, nullable=False)

    item = relationship(BundleItem, back_populates="materials")
    material = relationship(Material)


class ItemPrerequisite(Base):
    """What must come first. Rows sharing `position` are alternatives (any one)."""

    __tablename__ = "kb_item_prerequisites"

    id = Column(Integer, primary_key=True, autoincrement=True)
    item_id = Column(ForeignKey("kb_bundle_items.id", ondelete="CASCADE"), nullable=False)
    position = Column(Integer, nullable=False)
    requires_item_id = Column(ForeignKey("kb_bundle_items.id"))
    condition = Column(Text)

    item = relationship(BundleItem, back_populates="prerequisites", foreign_keys=[item_id])
    requires = relationship(BundleItem, foreign_keys=[requires_item_id])


class Synonym(Base):
    """A colloquial name of a bundle, or of an item when item_id is set."""

    __tablename__ = "kb_synonyms"
    __table_args__ = (UniqueConstraint("bundle_id", "item_id", "text"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    text = Column(String(100), nullable=False, index=True)
    bundle_id = Column(ForeignKey("kb_bundles.id", ondelete="CASCADE"), nullable=False)
    item_id = Column(ForeignKey("kb_bundle_items.id", ondelete="CASCADE"))

    bundle = relationship(Bundle, back_populates="synonyms")


class KbMeta(Base):
    """One row: the content fingerprint of the seeded knowledge base."""

    __tablename__ = "kb_meta"

    id = Column(Integer, primary_key=True)
    content_hash = Column(String(64), nullable=False)
    seeded_at = Column(String(40), nullable=False)
