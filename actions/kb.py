"""The action server's one KnowledgeService (cached, shared by all actions)."""

from __future__ import annotations

from functools import lru_cache

from bot.kb.service import KnowledgeService


@lru_cache(maxsize=1)
def knowledge() -> KnowledgeService:
    return KnowledgeService()
