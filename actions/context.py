"""Which bundle and item a question is about, the citizen's situation and
city, and the items last listed: from this message or the conversation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker

from bot.kb import wording
from bot.kb.service import KnowledgeService, UnknownBundle
from bot.kb.views import BundleView, ItemView

_TOKEN_RE = re.compile(r"⟪[^⟫]*⟫")  # vaulted personal data: never read for answers
_NUMBERS_ONLY = re.compile(r"^(?=.*\d)[\d\s,，、和及与跟还有第项个]+$")
ITEM_INTENTS = frozenset({"ask_materials", "ask_department", "ask_time_limit", "ask_fee", "ask_online"})

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
    remembered from earlier is dropped. A question about one item that the NLU
    did not name ("户口去哪里上") is matched against the bundle's item names
    and keywords.
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
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if _latest(tracker, "item") is None and intent in ITEM_INTENTS:
        named = items_named(bundle, text_of(tracker))
        if len(named) == 1:
            item = named[0]
    return Subject(bundle, item)


def text_of(tracker: Tracker) -> str:
    """The latest message as the citizen wrote it, without vaulted personal data.

    Rasa's parse data carries the text after the NLU's normaliser; the user
    event keeps the original, which is what situation words and replies are
    written against (the normalised form is tried as well, see `texts_of`)."""
    return _TOKEN_RE.sub(" ", citizen_text(tracker))


def texts_of(tracker: Tracker) -> list[str]:
    """The latest message as written and as normalised (繁→简, 粤语→普通话)."""
    normalised = _TOKEN_RE.sub(" ", tracker.latest_message.get("text") or "")
    return list(dict.fromkeys(t for t in (text_of(tracker), normalised) if t.strip()))


def items_named(bundle: BundleView, text: str) -> list[ItemView]:
    """Items of `bundle` named in `text` by name, alias or keyword, longest first."""
    phrases = sorted(((p, it) for it in bundle.items for p in {it.name, *it.aliases, *it.keywords} if p),
                     key=lambda x: -len(x[0]))
    taken = [False] * len(text)
    found: dict[str, ItemView] = {}
    for phrase, it in phrases:
        start = text.find(phrase)
        while start != -1:
            end = start + len(phrase)
            if not any(taken[start:end]):
                for i in range(start, end):
                    taken[i] = True
                found.setdefault(it.key, it)
            start = text.find(phrase, start + 1)
    return list(found.values())


GUIDE_KEY = "_guide"  # in the situation slot: the bundle the guide is asking about


def situation(tracker: Tracker) -> dict[str, Any]:
    value = tracker.get_slot("situation")
    if not isinstance(value, dict):
        return {}
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in value.items()}


def guide_bundle(tracker: Tracker, kb: KnowledgeService) -> BundleView | None:
    """The bundle the guide asks about (not the one a reply may seem to name:
    "有公积金" is an answer, not a question about 员工录用)."""
    bundle_id = situation(tracker).get(GUIDE_KEY) or tracker.get_slot("bundle")
    try:
        return kb.bundle(bundle_id) if bundle_id else None
    except UnknownBundle:
        return None


def answers(tracker: Tracker, bundle: BundleView, read_message: bool = True) -> tuple[dict[str, str], dict]:
    """The citizen's situation answers for `bundle`: those given before, with
    what the latest message says on top ("在医院病逝"). Also the new value of
    the `situation` slot."""
    known = situation(tracker)
    mine = dict(known.get(bundle.id, {}))
    if read_message and bundle.guide:
        said: dict[str, str] = {}
        for text in texts_of(tracker):  # as written first, then normalised
            for q, c in bundle.guide.infer(text, mine).items():
                said.setdefault(q, c)
        mine.update(said)
    known[bundle.id] = mine
    return mine, known


def place(tracker: Tracker) -> tuple[str | None, str | None]:
    return tracker.get_slot("city"), tracker.get_slot("district")


def listed(tracker: Tracker, bundle: BundleView) -> list[str] | None:
    """The item keys last shown to the citizen as a numbered list of `bundle`."""
    value = tracker.get_slot("listed_items") or []
    keys = [g.split(".", 1)[1] for g in value if isinstance(g, str) and g.startswith(f"{bundle.id}.")]
    return keys or None


def listed_slot(bundle: BundleView, keys: list[str] | tuple[str, ...]) -> list[str]:
    return [f"{bundle.id}.{k}" for k in keys]


def chooses_items(text: str) -> bool:
    """"先办1和3", "只要户口和医保", "除了社保卡都办", "1 3": choosing items in plain words."""
    return any(w in text for w in wording.words("choose.words")) or bool(_NUMBERS_ONLY.match(text.strip()))


def picks_listed_items(tracker: Tracker, kb: KnowledgeService) -> bool:
    """Whether the latest message chooses items of the list last shown
    ("先办1和3", "1 3", "只要户口和医保"), whatever intent the NLU gave it."""
    text = text_of(tracker).strip()
    bundle_id = tracker.get_slot("bundle")
    if not text or not bundle_id:
        return False
    try:
        bundle = kb.bundle(bundle_id)
    except UnknownBundle:
        return False
    return listed(tracker, bundle) is not None and chooses_items(text)


def asks_to_apply(text: str) -> bool:
    """An explicit request to apply now ("我要申请", "帮我网上办"), not just a wish."""
    return any(w in text for w in wording.words("choose.apply_words"))


def active_loop(tracker: Tracker) -> str | None:
    loop: Any = tracker.active_loop
    return loop.get("name") if isinstance(loop, dict) else None


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
