"""Write a validated KnowledgeBase into the database, all or nothing.

Seeding replaces the knowledge-base tables inside one transaction, so running it
twice gives the same rows and a failure leaves the previous content untouched.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.kb import cache_clear
from bot.kb.elsewhere import load_catalogue, seed_catalogue
from bot.kb.loader import load_knowledge_base
from bot.kb.spec import KnowledgeBase
from bot.models import (
    Bundle,
    BundleGuide,
    BundleItem,
    BundleRequirement,
    City,
    Department,
    ItemMaterial,
    ItemPlace,
    ItemPrerequisite,
    KbMeta,
    Material,
    PlaceKind,
    Synonym,
)

_KB_TABLES = (Synonym, ItemPrerequisite, ItemMaterial, ItemPlace, BundleRequirement, BundleGuide,
              BundleItem, Bundle, Material, Department, PlaceKind, City, KbMeta)


def seeded_hash(session: Session) -> str | None:
    return session.execute(select(KbMeta.content_hash)).scalar_one_or_none()


def seed(session: Session, kb: KnowledgeBase | None = None) -> bool:
    """Replace the knowledge base with `kb` (default: data/). Returns False if unchanged."""
    kb = kb or load_knowledge_base()
    # The catalogue of services handled elsewhere (its own table, own change check).
    catalogue_changed = seed_catalogue(session, load_catalogue(kb))
    if seeded_hash(session) == kb.content_hash:
        return catalogue_changed
    for table in _KB_TABLES:
        session.execute(delete(table))
    session.add_all(Department(id=d.id, name=d.name, national_name=d.national_name, where=d.where)
                    for d in kb.departments.values())
    session.add_all(Material(id=m.id, name=m.name, aliases=list(m.aliases), note=m.note,
                             e_certificate=m.e_certificate, is_form=m.is_form)
                    for m in kb.materials.values())
    places = kb.places.to_json()
    session.add_all(PlaceKind(id=k, name=v["name"], text=v["text"], local_text=v.get("local"),
                              online=bool(v.get("online")), position=pos)
                    for pos, (k, v) in enumerate(places["kinds"].items()))
    session.add_all(City(id=k, name=v["name"], aliases=v["aliases"], not_before=v.get("not_before", []),
                         district_word=v["district_word"],
                         districts=[{"id": did, **d} for did, d in v["districts"].items()],
                         places=v.get("places", {}), position=pos)
                    for pos, (k, v) in enumerate(places["cities"].items()))
    session.flush()
    for pos, b in enumerate(kb.bundles):
        session.add(Bundle(
            id=b.id, name=b.name, audience=b.audience, description=b.description,
            lead_department_id=b.lead_department, channels=list(b.channels), notes=list(b.notes),
            inferred=list(b.inferred), position=pos, source_file=b.source_file,
        ))
        for s in dict.fromkeys((b.name, *b.synonyms)):
            session.add(Synonym(text=s, bundle_id=b.id))
    session.flush()
    for b in kb.bundles:
        for pos, it in enumerate(b.items):
            session.add(BundleItem(
                id=it.global_id, bundle_id=b.id, key=it.id, name=it.name,
                department_id=it.department, position=pos, choice=it.choice,
                parallel_group=it.parallel_group, first_step=it.first_step,
                in_national_list=it.in_national_list, in_guangdong_list=it.in_guangdong_list,
                working_days=it.working_days, time_limit_committed=it.time_limit_committed,
                time_limit_statutory=it.time_limit_statutory, fee=it.fee, online=it.online,
                online_note=it.online_note, results=list(it.results), produces=list(it.produces),
                notes=list(it.notes), inferred=list(it.inferred), where_note=it.where_note,
                keywords=list(it.keywords),
            ))
        guide = b.guide.to_json()
        session.add(BundleGuide(bundle_id=b.id, questions=guide.get("questions", []),
                                rules=guide.get("rules", []), exclusive=guide.get("exclusive", [])))
        for pos, r in enumerate(b.requires):
            session.add(BundleRequirement(bundle_id=b.id, position=pos, requires_bundle_id=r.bundle, why=r.why,
                                          unless={q: list(cs) for q, cs in r.unless}))
    session.flush()
    for b in kb.bundles:
        for it in b.items:
            for pos, use in enumerate(it.materials):
                session.add(ItemMaterial(item_id=it.global_id, material_id=use.doc, holder=use.holder,
                                         note=use.note, conditional=use.conditional, position=pos))
            for pos, p in enumerate(it.prerequisites):
                if p.condition:
                    session.add(ItemPrerequisite(item_id=it.global_id, position=pos, condition=p.condition))
                for ref in p.any_of:
                    session.add(ItemPrerequisite(item_id=it.global_id, position=pos, requires_item_id=ref))
            for pos, kind in enumerate(it.where):
                session.add(ItemPlace(item_id=it.global_id, place_kind_id=kind, position=pos))
            for alias in dict.fromkeys((it.name, *it.aliases)):
                session.add(Synonym(text=alias, bundle_id=b.id, item_id=it.global_id))
    session.add(KbMeta(id=1, content_hash=kb.content_hash,
                       seeded_at=datetime.now(timezone.utc).isoformat(timespec="seconds")))
    session.flush()
    cache_clear()  # this process's caches look again (after the caller's commit)
    return True
