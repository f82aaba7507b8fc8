"""Knowledge-base queries shared by the Rasa actions and the backend APIs.

Content is read from the database once and cached per process; the cache is
dropped when the seeded content hash changes, so re-seeding after an edit of
data/bundles/*.yml changes the answers without a restart.

The hash itself is a query, so it is looked at no more than every
KB_RECHECK_SECONDS (2 s), and once per action-server request (`recheck()`, from
rasa_sdk_plugins): an action costs one small query however many KB lookups it
makes (issue 13: it was one new connection and query per lookup), and answers
follow published content at once. In the process that publishes (seed, the
editor), `bot.kb.cache_clear()` makes every service look again.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.db import session_factory
from bot.kb.materials import merge_materials
from bot.kb.places import City as CitySpec
from bot.kb.places import District, PlaceKind, Places
from bot.kb.situations import Decision, Guide
from bot.kb.views import (
    BundleView,
    DepartmentView,
    ItemView,
    MaterialNeed,
    MaterialUseView,
    PrerequisiteView,
    RequirementView,
)
from bot.models import (
    Bundle,
    BundleGuide,
    BundleItem,
    BundleRequirement,
    City,
    Department,
    ItemMaterial,
    KbMeta,
)
from bot.models import PlaceKind as PlaceKindRow


class UnknownBundle(LookupError):
    def __init__(self, bundle_id: str):
        super().__init__(f"unknown bundle: {bundle_id!r}")
        self.bundle_id = bundle_id


class KnowledgeBaseEmpty(RuntimeError):
    pass


def _dept(d: Department) -> DepartmentView:
    return DepartmentView(d.id, d.name, d.national_name, d.where)


def _load_all(session: Session) -> dict[str, BundleView]:
    bundles = session.execute(
        select(Bundle)
        .order_by(Bundle.position)
        .options(
            selectinload(Bundle.lead_department),
            selectinload(Bundle.synonyms),
            selectinload(Bundle.items).selectinload(BundleItem.department),
            selectinload(Bundle.items).selectinload(BundleItem.materials).selectinload(ItemMaterial.material),
            selectinload(Bundle.items).selectinload(BundleItem.prerequisites),
            selectinload(Bundle.items).selectinload(BundleItem.places),
        )
    ).scalars().all()
    names = dict(session.execute(select(BundleItem.id, BundleItem.name)).all())
    bundle_names = dict(session.execute(select(Bundle.id, Bundle.name)).all())
    guides = {g.bundle_id: Guide.from_json({"questions": g.questions, "rules": g.rules,
                                            "exclusive": g.exclusive})
              for g in session.execute(select(BundleGuide)).scalars()}
    requirements: dict[str, list[RequirementView]] = {}
    for r in session.execute(select(BundleRequirement).order_by(BundleRequirement.bundle_id,
                                                                BundleRequirement.position)).scalars():
        requirements.setdefault(r.bundle_id, []).append(RequirementView(
            r.requires_bundle_id, bundle_names[r.requires_bundle_id], r.why,
            tuple((q, tuple(cs)) for q, cs in (r.unless or {}).items())))
    out: dict[str, BundleView] = {}
    for b in bundles:
        items = []
        for it in b.items:
            prereqs: dict[int, PrerequisiteView] = {}
            for p in it.prerequisites:
                cur = prereqs.get(p.position, PrerequisiteView())
                if p.requires_item_id:
                    ref = p.requires_item_id
                    key = ref.split(".", 1)[1] if ref.startswith(f"{b.id}.") else ref
                    cur = PrerequisiteView(cur.items + (key,), cur.item_names + (names[ref],), cur.condition)
                if p.condition:
                    cur = PrerequisiteView(cur.items, cur.item_names, p.condition)
                prereqs[p.position] = cur
            items.append(ItemView(
                key=it.key, global_id=it.id, name=it.name,
                aliases=tuple(s.text for s in b.synonyms if s.item_id == it.id and s.text != it.name),
                department=_dept(it.department), choice=it.choice, parallel_group=it.parallel_group,
                first_step=it.first_step, in_national_list=it.in_national_list,
                in_guangdong_list=it.in_guangdong_list,
                prerequisites=tuple(prereqs[k] for k in sorted(prereqs)),
                materials=tuple(
                    MaterialUseView(m.material_id, m.material.name, m.holder, m.note, m.conditional,
                                    m.material.e_certificate)
                    for m in it.materials
                ),
                working_days=it.working_days, time_limit_committed=it.time_limit_committed,
                time_limit_statutory=it.time_limit_statutory, fee=it.fee, online=it.online,
                online_note=it.online_note, results=tuple(it.results), produces=tuple(it.produces),
                notes=tuple(it.notes), inferred=tuple(it.inferred),
                where=tuple(p.place_kind_id for p in it.places), where_note=it.where_note,
                keywords=tuple(it.keywords or ()),
            ))
        out[b.id] = BundleView(
            id=b.id, name=b.name, audience=b.audience, description=b.description,
            lead_department=_dept(b.lead_department), items=tuple(items),
            synonyms=tuple(s.text for s in b.synonyms if s.item_id is None and s.text != b.name),
            channels=tuple(b.channels), notes=tuple(b.notes),
            guide=guides.get(b.id, Guide()), requires=tuple(requirements.get(b.id, ())),
        )
    return out


def _load_places(session: Session) -> Places:
    kinds = {k.id: PlaceKind(k.id, k.name, k.text, k.local_text, k.online)
             for k in session.execute(select(PlaceKindRow).order_by(PlaceKindRow.position)).scalars()}
    cities = {}
    for c in session.execute(select(City).order_by(City.position)).scalars():
        districts = tuple(District(d["id"], d["name"], tuple(d.get("aliases", ())), tuple(d.get("not_before", ())))
                          for d in c.districts or [])
        cities[c.id] = CitySpec(c.id, c.name, tuple(c.aliases or ()), tuple(c.not_before or ()),
                                c.district_word, districts, tuple((c.places or {}).items()))
    return Places(kinds, cities)


RECHECK_SECONDS = float(os.environ.get("KB_RECHECK_SECONDS") or 2.0)
_SERVICES: weakref.WeakSet[KnowledgeService] = weakref.WeakSet()
_generation = 0  # bumped by cache_clear(): caches built on the KB (forms) rebuild too


def recheck() -> None:
    """Every KnowledgeService of this process reads the content hash at its next call
    (the action server calls this once per request: rasa_sdk_plugins)."""
    for service in list(_SERVICES):
        service._checked = None


def cache_clear() -> None:
    """Every KnowledgeService of this process reads the content hash again at its next
    call (and reloads if it changed); caches keyed by `cache_key` are rebuilt."""
    global _generation
    _generation += 1
    for service in list(_SERVICES):
        service._checked = None


class KnowledgeService:
    """Cached access to bundles; safe to share between threads."""

    def __init__(self, sessions: sessionmaker | None = None):
        self._sessions = sessions or session_factory()
        self._lock = threading.Lock()
        self._hash: str | None = None
        self._checked: float | None = None  # monotonic time the hash was last read
        self._bundles: dict[str, BundleView] = {}
        self._places = Places()
        _SERVICES.add(self)

    @property
    def cache_key(self) -> tuple[str | None, int]:
        """Changes when the content does, or cache_clear() was called."""
        self._current()
        return self._hash, _generation

    def _current(self) -> dict[str, BundleView]:
        checked = self._checked
        if checked is not None and time.monotonic() - checked < RECHECK_SECONDS:
            return self._bundles
        with self._sessions() as session:
            content_hash = session.execute(select(KbMeta.content_hash)).scalar_one_or_none()
            if content_hash is None:
                raise KnowledgeBaseEmpty("the knowledge base is not seeded: run `python -m bot seed`")
            if content_hash != self._hash:
                with self._lock:
                    if content_hash != self._hash:
                        self._bundles = _load_all(session)
                        self._places = _load_places(session)
                        self._hash = content_hash
            self._checked = time.monotonic()
            return self._bundles

    def bundles(self, audience: str | None = None) -> list[BundleView]:
        return [b for b in self._current().values() if audience in (None, b.audience)]

    def bundle(self, bundle_id: str) -> BundleView:
        try:
            return self._current()[bundle_id]
        except KeyError:
            raise UnknownBundle(bundle_id) from None

    def materials(self, bundle_id: str, item_keys: Iterable[str] | None = None,
                  decision: Decision | None = None) -> list[MaterialNeed]:
        return merge_materials(self.bundle(bundle_id), item_keys, decision)

    def places(self) -> Places:
        self._current()
        return self._places

    def decide(self, bundle_id: str, answers: dict[str, str] | None = None) -> Decision:
        """What applies to the citizen's case (bot.kb.situations)."""
        bundle = self.bundle(bundle_id)
        return bundle.guide.decide([it.key for it in bundle.items], answers or {})

    def find_items(self, text: str) -> list[tuple[BundleView, ItemView]]:
        """Items whose name or alias occurs in `text`, longest names first."""
        hits = []
        for b in self._current().values():
            for it in b.items:
                for name in sorted((it.name, *it.aliases), key=len, reverse=True):
                    if name and name in text:
                        hits.append((len(name), b, it))
                        break
        hits.sort(key=lambda h: -h[0])
        return [(b, it) for _, b, it in hits]
