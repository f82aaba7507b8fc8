"""好差评: a 1–5 rating of a service, tied to its bundle and departments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.db import session_factory
from bot.kb.service import KnowledgeService
from bot.models import Application, Rating
from bot.privacy.masking import mask_text

# Longest first, so 非常不满意 is not read as 满意.
LABELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
_WORDS = [("非常不满意", 1), ("非常唔满意", 1), ("很不满意", 1), ("太差", 1), ("差评", 1),
          ("唔满意", 2), ("不满意", 2), ("不太满意", 2), ("一般般", 3), ("基本满意", 3), ("一般", 3),
          ("还行", 3), ("非常满意", 5), ("好满意", 5), ("很满意", 5), ("五星", 5), ("好评", 5),
          ("满意", 4)]
_WORDS.sort(key=lambda w: -len(w[0]))
_DIGIT_RE = re.compile(r"(?<!\d)([1-5])\s*(分|星|颗星)?(?!\d)")
FLAG_AT_OR_BELOW = 2


def parse_score(text: str) -> tuple[int | None, str]:
    """(score, comment) from a rating message; the comment is what is left."""
    t = text.strip()
    for word, score in _WORDS:
        if word in t:
            return score, _comment(t.replace(word, " ", 1))
    m = _DIGIT_RE.search(t)
    if m:
        return int(m.group(1)), _comment(t[:m.start()] + " " + t[m.end():])
    return None, t


def _comment(rest: str) -> str:
    rest = re.sub(r"^[\s,，。.!！:：]*(我给|给|评价|打分|打)?[\s,，。.!！:：]*", "", rest)
    rest = rest.strip(" ,，。.!！:：")
    return rest if len(rest) >= 2 else ""


@dataclass(frozen=True)
class RatingView:
    id: int
    score: int
    label: str
    flagged: bool
    bundle_id: str | None
    department_ids: list[str]


class Ratings:
    def __init__(self, kb: KnowledgeService | None = None, sessions: sessionmaker | None = None):
        self.kb = kb or KnowledgeService()
        self._sessions = sessions or session_factory()

    def rate(self, sender: str, score: int, comment: str = "", bundle_id: str | None = None,
             application_number: str | None = None) -> RatingView:
        """Record a rating; with an application it is tied to that application's items."""
        if score not in LABELS:
            raise ValueError("score must be 1–5")
        with self._sessions.begin() as session:
            application_id, item_keys = None, None
            if application_number:
                app = session.execute(select(Application).where(
                    Application.number == application_number, Application.sender == sender)
                ).scalar_one_or_none()
                if app is not None:
                    application_id, bundle_id = app.id, app.bundle_id
                    item_keys = [s.item_key for s in app.subs]
            departments: list[str] = []
            if bundle_id:
                bundle = self.kb.bundle(bundle_id)
                items = [it for it in bundle.items if item_keys is None or it.key in item_keys]
                departments = sorted({it.department.id for it in items} | {bundle.lead_department.id})
            row = Rating(sender=sender, application_id=application_id, bundle_id=bundle_id,
                         department_ids=departments, score=score,
                         comment=mask_text(comment)[:500] or None,
                         flagged=score <= FLAG_AT_OR_BELOW, created_at=datetime.now(timezone.utc))
            session.add(row)
            session.flush()
            return RatingView(row.id, score, LABELS[score], row.flagged, bundle_id, departments)
