"""The tables bot.content owns (migration 0009_content)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, ForeignKey, Integer, String, Text

from bot.models import Base


class ContentVersion(Base):
    """A full snapshot of the editable content (data/ files by relative path → text).

    state: draft (the one being edited) | frozen (trained from, or imported) ; which one is
    live is the live model's content version (ContentLive), never a flag here."""

    __tablename__ = "content_versions"

    id = Column(Integer, primary_key=True)
    parent_id = Column(ForeignKey("content_versions.id"), nullable=True)
    state = Column(String(16), nullable=False, default="draft")
    files = Column(JSON, nullable=False)
    content_hash = Column(String(64), nullable=False)
    note = Column(Text)
    created_by = Column(String(64))
    created_at = Column(DateTime(timezone=True), nullable=False)
    # who edited this draft (the four-eyes rule of publishing)
    editors = Column(JSON, nullable=False, default=list)


class Training(Base):
    """One training job: queued → running → evaluating → succeeded | failed."""

    __tablename__ = "content_trainings"

    id = Column(Integer, primary_key=True)
    content_version_id = Column(ForeignKey("content_versions.id"), nullable=False)
    state = Column(String(16), nullable=False, default="queued")
    progress = Column(Float, nullable=False, default=0.0)
    stage = Column(String(120), nullable=False, default="")
    model_id = Column(String(64))
    error = Column(Text)
    log = Column(JSON, nullable=False, default=list)  # [{"at", "stage", "progress"}]
    requested_by = Column(String(64))
    created_at = Column(DateTime(timezone=True), nullable=False)
    started_at = Column(DateTime(timezone=True))
    finished_at = Column(DateTime(timezone=True))


class TrainedModel(Base):
    """A model file in models/ trained from one content version, and its evaluation."""

    __tablename__ = "content_models"

    id = Column(String(64), primary_key=True)  # the file name without .tar.gz
    rasa_model_id = Column(String(64), nullable=False, index=True)  # metadata.json model_id
    content_version_id = Column(ForeignKey("content_versions.id"), nullable=False)
    path = Column(Text, nullable=False)
    sha256 = Column(String(64), nullable=False)
    evaluation = Column(JSON)
    trained_by = Column(String(64))
    created_at = Column(DateTime(timezone=True), nullable=False)
    seconds = Column(Float)
    ever_live = Column(Integer, nullable=False, default=0)


class ContentLive(Base):
    """The one row saying which model (and so which content version) is live."""

    __tablename__ = "content_live"

    id = Column(Integer, primary_key=True)  # always 1
    model_id = Column(ForeignKey("content_models.id"), nullable=False)
    published_by = Column(String(64))
    published_at = Column(DateTime(timezone=True), nullable=False)
