"""Shared data (共享数据): what government already knows about a citizen.

`CitizenRecords` is the seam: the demo implementation reads an encrypted
table seeded from data/demo/citizens.yml; a real deployment swaps in the
provincial data-sharing endpoint behind the same two methods.

`SharedData` is the only way the conversation and the form API reach it: a
record is looked up only for a sender whose real-name identity is verified
(bot.identity) as the holder of that 身份证号, at most `LOOKUPS_PER_HOUR` times
per sender, and every look-up and refusal is written to the audit log
(table shared_data_lookups; this module owns it and citizen_records).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol

import yaml
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import senders
from bot.config import DATA_DIR
from bot.db import session_factory
from bot.identity.service import Identities
from bot.models import CitizenRecord, SharedDataLookup
from bot.privacy.crypto import blind_index

log = logging.getLogger("bot.shared_data")
LOOKUPS_PER_HOUR = int(os.environ.get("SHARED_DATA_LOOKUPS_PER_HOUR") or 5)
FOUND, NONE, UNVERIFIED, MISMATCH, LIMITED = "found", "none", "unverified", "mismatch", "limited"

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


@dataclass(frozen=True)
class Lookup:
    outcome: str  # found | none | unverified | mismatch | limited
    record: dict[str, str] | None = None


class SharedData:
    """Pre-fill look-ups, gated by identity, rate-limited and audited per sender."""

    def __init__(self, records: CitizenRecords | None = None, identities: Identities | None = None,
                 sessions: sessionmaker | None = None, per_hour: int = LOOKUPS_PER_HOUR):
        self.records = records or DbCitizenRecords(sessions)
        self.identities = identities or Identities(sessions=sessions)
        self._sessions = sessions or session_factory()
        self.per_hour = per_hour

    def available(self, sender: str) -> bool:
        """Whether pre-fill can be offered to this sender at all (the same answer for
        everyone on a channel: it never depends on whether a record exists)."""
        return self.identities.available(sender)

    def lookup(self, sender: str, id_number: str) -> Lookup:
        status = self.identities.status(sender)
        if status.state != "passed":
            return self._audit(sender, id_number, Lookup(UNVERIFIED))
        if not status.matches(id_number):
            return self._audit(sender, id_number, Lookup(MISMATCH))
        with self._sessions() as s:
            recent = s.execute(select(func.count()).select_from(SharedDataLookup).where(
                SharedDataLookup.sender_index == blind_index(sender),
                SharedDataLookup.outcome.in_((FOUND, NONE)),
                SharedDataLookup.at > datetime.now(timezone.utc) - timedelta(hours=1))).scalar_one()
        if recent >= self.per_hour:
            return self._audit(sender, id_number, Lookup(LIMITED))
        record = self.records.lookup(id_number)
        return self._audit(sender, id_number, Lookup(FOUND if record else NONE, record))

    def _audit(self, sender: str, id_number: str, result: Lookup) -> Lookup:
        with self._sessions.begin() as s:
            s.add(SharedDataLookup(sender_index=blind_index(sender), id_index=blind_index(id_number),
                                   channel=senders.kind(sender), outcome=result.outcome,
                                   at=datetime.now(timezone.utc)))
        log.info("shared-data look-up by %s… (%s): %s", sender[:6], senders.kind(sender),
                 result.outcome)
        return result

    def audit_log(self, sender: str) -> list[tuple[datetime, str]]:
        """(when, outcome) of this sender's look-ups, newest first."""
        with self._sessions() as s:
            rows = s.execute(select(SharedDataLookup.at, SharedDataLookup.outcome)
                             .where(SharedDataLookup.sender_index == blind_index(sender))
                             .order_by(SharedDataLookup.id.desc())).all()
        return [(r.at, r.outcome) for r in rows]

    def purge(self, older_than: timedelta) -> int:
        with self._sessions.begin() as s:
            return s.execute(delete(SharedDataLookup)
                             .where(SharedDataLookup.at < datetime.now(timezone.utc) - older_than)
                             .execution_options(synchronize_session=False)).rowcount


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
