"""Run Alembic migrations from code (make run, tests), no alembic CLI needed."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from bot.config import ROOT, database_url


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "bot" / "migrations"))
    cfg.attributes["url"] = url or database_url()
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
