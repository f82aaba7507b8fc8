"""Which content version answers a turn: the one the understanding model was trained from.

Rasa writes the model's id into every event it records (event metadata `model_id`),
and the action server receives the tracker with those events. While a publish rolls
through the servers, a turn understood by the old model is answered from the old
content and a turn of the new model from the new content — never a mix. The live
version is read from the knowledge-base tables (seeded at publish); any other
version is loaded once from its snapshot into a private in-memory database by the
same seeding code, so both paths give the same views.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextvars import ContextVar

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from bot.kb.service import KnowledgeService

# The model id of the turn being answered (set by the action server per request).
MODEL_ID: ContextVar[str | None] = ContextVar("yjs_model_id", default=None)
_CACHE_SIZE = 3


def model_id_of(tracker: dict) -> str | None:
    """The model id of the latest event that carries one."""
    for event in reversed((tracker or {}).get("events") or []):
        model_id = (event.get("metadata") or {}).get("model_id")
        if model_id:
            return model_id
    return None


def _version_service(files: dict[str, str]) -> KnowledgeService:
    from bot.content.store import materialised
    from bot.kb.loader import load_knowledge_base
    from bot.kb.seed import _KB_TABLES, seed
    from bot.models import ElsewhereService

    engine = create_engine("sqlite://", future=True, poolclass=StaticPool,
                           connect_args={"check_same_thread": False})
    tables = [t.__table__ for t in (*_KB_TABLES, ElsewhereService)]
    from bot.models import Base

    Base.metadata.create_all(engine, tables=tables)
    sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)
    with materialised(files) as data_dir:
        kb = load_knowledge_base(data_dir)
        with sessions.begin() as s:
            seed(s, kb)
    return KnowledgeService(sessions)


class VersionedKnowledge(KnowledgeService):
    """A KnowledgeService that answers from the content version of MODEL_ID's model."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._versions: OrderedDict[int, KnowledgeService] = OrderedDict()
        self._model_versions: dict[str, int | None] = {}
        self._vlock = threading.Lock()

    def _pinned(self) -> KnowledgeService | None:
        model_id = MODEL_ID.get()
        if not model_id:
            return None
        try:
            from bot.content.models import Models
            from bot.content.store import ContentStore

            if model_id not in self._model_versions:
                self._model_versions[model_id] = Models(self._sessions).content_version_of(model_id)
            version = self._model_versions[model_id]
            if version is None:
                return None
            store = ContentStore(self._sessions)
            if version == store.live_version_id():
                return None  # the seeded tables are this version
            with self._vlock:
                if version not in self._versions:
                    self._versions[version] = _version_service(store.files(version))
                    while len(self._versions) > _CACHE_SIZE:
                        self._versions.popitem(last=False)
                self._versions.move_to_end(version)
                return self._versions[version]
        except Exception:  # noqa: BLE001 - no version table yet etc.: answer from the live content
            return None

    def _current(self):
        pinned = self._pinned()
        return pinned._current() if pinned is not None else super()._current()

    def places(self):
        pinned = self._pinned()
        return pinned.places() if pinned is not None else super().places()
