"""Which bundle and item a question is about, from this message or the conversation."""

from __future__ import annotations

from dataclasses import dataclass

from rasa_sdk import Tracker

from bot.kb.service import KnowledgeService, UnknownBundle
from bot.kb.views import BundleView, ItemView

# Offered when a question comes without any bundle in the conversation.
POPULAR = ("newborn", "enterprise_opening", "marriage_childbirth", "employee_retirement", "after_death")
MAX_CHOICES = 5


@dataclass(frozen=True)
class Subject:
    bundle: BundleView | None
    item: ItemView | None


def citizen_text(tracker: Tracker) -> str:
    """The citizen's message as their channel passed it to Rasa (vault tokens intact).

    Not `latest_message["text"]`: that is the NLU's normalised text (繁→简, 粤语 and
    typos rewritten), which is right for understanding and wrong for reading back an
    answer — a vault token with "bb" in it would come out as "宝宝" and never resolve."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            return event.get("text") or ""
    return tracker.latest_message.get("text") or ""


def _latest(tracker: Tracker, entity: str) -> str | None:
    return next(tracker.get_latest_entity_values(entity), None)


def subject(tracker: Tracker, kb: KnowledgeService) -> Subject:
    """The bundle named now, else the one in context; the item likewise.

    A message that names a bundle but no item starts a fresh topic, so an item
    remembered from earlier is dropped.
    """
    bundle_id = _latest(tracker, "bundle") or tracker.get_slot("bundle")
    named_now = _latest(tracker, "bundle") is not None
    item_key = _latest(tracker, "item") or (None if named_now else tracker.get_slot("item"))
    if not bundle_id:
        return Subject(None, None)
    try:
        bundle = kb.bundle(bundle_id)
    except UnknownBundle:
        return Subject(None, None)
    item = None
    if item_key:
        try:
            item = bundle.item(item_key)
        except KeyError:
            item = None
    return Subject(bundle, item)


def likely_bundles(tracker: Tracker, kb: KnowledgeService, limit: int = MAX_CHOICES) -> list[BundleView]:
    """The NLU's bundle ranking for the latest message, topped up with popular bundles."""
    ranking = tracker.latest_message.get("bundle_ranking") or []
    ids = [r["name"] for r in ranking if r.get("confidence", 0) >= 0.1]
    ids += [b for b in POPULAR if b not in ids]
    known = {b.id: b for b in kb.bundles()}
    return [known[i] for i in ids if i in known][:limit]


def choice_buttons(intent: str, bundles: list[BundleView]) -> list[dict]:
    buttons = [{"title": b.name, "payload": f'/{intent}{{"bundle":"{b.id}"}}'} for b in bundles]
    buttons.append({"title": "其他事项", "payload": "/list_bundles"})
    return buttons
