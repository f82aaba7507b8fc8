"""The catalogue of government services handled elsewhere (data/elsewhere.yml).

People ask a 一件事 assistant about 护照, 公积金贷款, 离婚 … because they sound like
one of our bundles. Each entry says what the service is, how people say it (the
NLU matches these phrases, see nlu.bundle_resolver) and where it is handled.

This module owns the `kb_elsewhere_services` table: it loads and validates the
file against the knowledge base (every problem with file and line, all at once),
seeds it in the caller's transaction, and answers lookups for the actions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.config import DATA_DIR
from bot.kb.loader import ID_RE, KnowledgeBaseError, _line, _Map, _read, _Reporter, _text, _texts
from bot.kb.spec import KnowledgeBase
from bot.models import ElsewhereService

FILE_NAME = "elsewhere.yml"


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    how: str


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    phrases: tuple[str, ...]
    office: str
    channels: tuple[Channel, ...]
    department: str | None = None
    note: str | None = None
    confused_with: tuple[str, ...] = ()
    # (names, deeds): a name and a deed in one clause, any order (营业执照 … 丢了)
    together: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Catalogue:
    services: tuple[Service, ...]
    content_hash: str

    def get(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)


def catalogue_path(data_dir: Path = DATA_DIR) -> Path:
    return data_dir / FILE_NAME


def kb_vocabulary(kb: KnowledgeBase) -> dict[str, str]:
    """Every phrase the NLU reads as a bundle or item name → where it comes from."""
    from bot.nlu_export import item_phrases

    out: dict[str, str] = {}
    for b in kb.bundles:
        for p in (b.name, *b.synonyms):
            out.setdefault(p, f"bundle {b.id}")
        for it in b.items:
            for p in item_phrases(it.name, it.aliases):
                out.setdefault(p, f"item {it.global_id}")
    return out


def _channels(raw: _Map, path: Path, rep: _Reporter) -> dict[str, Channel]:
    out: dict[str, Channel] = {}
    if not isinstance(raw, dict) or not raw:
        rep.add(path, _line(raw), "'channels' must map channel ids to {name, how}")
        return out
    for cid, c in raw.items():
        if not isinstance(c, dict):
            rep.add(path, _line(raw, cid), f"channel '{cid}' must be a mapping")
            continue
        name, how = _text(c, "name", path, rep), _text(c, "how", path, rep)
        if name and how:
            out[str(cid)] = Channel(str(cid), name, how)
    return out


def load_catalogue(kb: KnowledgeBase, data_dir: Path = DATA_DIR) -> Catalogue:
    """Load and validate data/elsewhere.yml against `kb`; raise KnowledgeBaseError."""
    from nlu.normalize import Normalizer

    path = catalogue_path(data_dir)
    rep = _Reporter()
    raw = _read(path, rep)
    services: list[Service] = []
    if raw is not None and not isinstance(raw, dict):
        rep.add(path, 1, "expected a mapping with 'channels' and 'services'")
        raw = None
    if raw is not None:
        channels = _channels(raw.get("channels"), path, rep)
        normalize = Normalizer.from_file(data_dir / "normalization.yml")
        vocabulary = {normalize(p): where for p, where in kb_vocabulary(kb).items()}
        bundle_ids = {b.id for b in kb.bundles}
        owner: dict[str, str] = {}
        entries = raw.get("services")
        if not isinstance(entries, dict) or not entries:
            rep.add(path, _line(raw, "services"), "'services' must map service ids to services")
            entries = {}
        for sid, s in entries.items():
            line = _line(entries, sid)
            if not isinstance(s, dict):
                rep.add(path, line, f"service '{sid}' must be a mapping")
                continue
            if not ID_RE.match(str(sid)):
                rep.add(path, line, f"service id '{sid}' must be snake_case")
            if str(sid) in bundle_ids:
                rep.add(path, line, f"service id '{sid}' is a bundle id")
            name, office = _text(s, "name", path, rep), _text(s, "office", path, rep)
            phrases = _texts(s, "phrases", path, rep)
            if not phrases:
                rep.add(path, _line(s), f"service '{sid}' needs at least one phrase")
            for p in phrases:
                n = normalize(p)
                if len(n) < 2:
                    rep.add(path, _line(s, "phrases"), f"phrase '{p}' is shorter than 2 characters")
                if n in vocabulary:
                    rep.add(path, _line(s, "phrases"),
                            f"phrase '{p}' is also a name of {vocabulary[n]}: a phrase belongs to one place")
                if n in owner and owner[n] != sid:
                    rep.add(path, _line(s, "phrases"), f"phrase '{p}' is also in service '{owner[n]}'")
                owner[n] = str(sid)
            dept = _text(s, "department", path, rep, required=False)
            if dept and dept not in kb.departments:
                rep.add(path, _line(s, "department"), f"unknown department '{dept}'")
            refs = _texts(s, "channels", path, rep)
            if not refs:
                rep.add(path, _line(s), f"service '{sid}' needs at least one channel")
            for ref in refs:
                if ref not in channels:
                    rep.add(path, _line(s, "channels"), f"unknown channel '{ref}'")
            together = []
            pairs = s.get("together") or []
            if not isinstance(pairs, list):
                rep.add(path, _line(s, "together"), "'together' must be a list of [names, deeds]")
                pairs = []
            for pair in pairs:
                ok = (isinstance(pair, list) and len(pair) == 2
                      and all(isinstance(side, list) and side and all(isinstance(t, str) and t for t in side)
                              for side in pair))
                if not ok:
                    rep.add(path, _line(s, "together"),
                            f"service '{sid}': each 'together' entry is [[names…], [deeds…]]")
                    continue
                names, deeds = (tuple(normalize(t) for t in side) for side in pair)
                if any(len(t) < 2 for t in names):
                    rep.add(path, _line(s, "together"), f"service '{sid}': names need 2+ characters")
                together.append((names, deeds))
            confused = _texts(s, "confused_with", path, rep)
            for ref in confused:
                if ref not in bundle_ids:
                    rep.add(path, _line(s, "confused_with"), f"unknown bundle '{ref}'")
            if name and office and phrases:
                services.append(Service(
                    id=str(sid), name=name, phrases=phrases, office=office,
                    channels=tuple(channels[r] for r in refs if r in channels), department=dept,
                    note=_text(s, "note", path, rep, required=False), confused_with=confused,
                    together=tuple(together),
                ))
    if rep.problems:
        raise KnowledgeBaseError(rep.problems)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Catalogue(tuple(services), digest)


def seed_catalogue(session: Session, catalogue: Catalogue) -> bool:
    """Replace the table with `catalogue` (in the caller's transaction); False if unchanged."""
    current = session.execute(select(ElsewhereService.content_hash).limit(1)).scalar_one_or_none()
    count = len(session.execute(select(ElsewhereService.id)).all())
    if current == catalogue.content_hash and count == len(catalogue.services):
        return False
    session.execute(delete(ElsewhereService))
    session.add_all(
        ElsewhereService(
            id=s.id, name=s.name, phrases=list(s.phrases), department_id=s.department,
            office=s.office, note=s.note, confused_with=list(s.confused_with), position=pos,
            channels=[{"id": c.id, "name": c.name, "how": c.how} for c in s.channels],
            content_hash=catalogue.content_hash,
        )
        for pos, s in enumerate(catalogue.services)
    )
    session.flush()
    return True


def lookup(session: Session, service_id: str) -> Service | None:
    """The seeded service `service_id`, or None."""
    row = session.get(ElsewhereService, service_id)
    if row is None:
        return None
    return Service(
        id=row.id, name=row.name, phrases=tuple(row.phrases), office=row.office,
        channels=tuple(Channel(c["id"], c["name"], c["how"]) for c in row.channels),
        department=row.department_id, note=row.note, confused_with=tuple(row.confused_with),
    )
