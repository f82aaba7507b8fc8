"""Shared data (共享数据): what government already knows about a citizen.

`CitizenRecords` is the seam: the demo implementation reads an encrypted
table seeded from data/demo/citizens.yml; a real deployment swaps in the
provincial data-sharing endpoint behind the same two methods.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import DATA_DIR
from bot.db import session_factory
from bot.models import CitizenRecord
from bot.privacy.crypto import blind_index

DEMO_FILE = DATA_DIR / "demo" / "citizens.yml"


class CitizenRecords(Protocol):
    def lookup(self, id_number: str) -> dict[str, str] | None:
        """Known facts about the holder of `id_number`, keyed like `prefill:` in forms."""


class DbCitizenRecords:
    def __init__(self, sessions: sessionmaker | None = None):
        self._sessions = sessions or session_factory()

    def lookup(self, id_number: str) -> dict[str, str] | None:
        with self._sessions() as session:
            row = session.execute(
                select(CitizenRecord).where(CitizenRecord.id_index == blind_index(id_number))
            ).scalar_one_or_none()
            return dict(row.data) if row else None


def seed_demo_records(session: Session, path: Path = DEMO_FILE) -> int:
    """Upsert the demo people (idempotent); returns how many records exist."""
    if not path.exists():
        return 0
    people = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("citizens") or []
    now = datetime.now(timezone.utc)
    for person in people:
        data = {k: str(v) for k, v in person.items()}
        index = blind_index(data["id_number"])
        row = session.execute(
            select(CitizenRecord).where(CitizenRecord.id_index == index)
        ).scalar_one_or_none()
        if row is None:
            session.add(CitizenRecord(id_index=index, data=data, source="demo", updated_at=now))
        elif row.data != data:
            row.data, row.updated_at = data, now
    return len(people)
