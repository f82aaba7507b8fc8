"""The action server's one KnowledgeService (cached, shared by all actions)."""

from __future__ import annotations

from functools import lru_cache

from bot.content.pinning import VersionedKnowledge
from bot.kb.service import KnowledgeService


@lru_cache(maxsize=1)
def knowledge() -> KnowledgeService:
    # answers from the content version of the model that understood the turn
    return VersionedKnowledge()
