"""Trained models, their evaluation, publishing and rolling back.

What "live" means: one row (content_live) names the live model; the live content
version is the one that model was trained from. Publishing changes that row and
re-seeds the knowledge-base tables from the version in the same transaction; the
Rasa servers notice on their next poll of the model server (GET /api/models/live
on the backend, ETag = our model id, 304 while unchanged) and load it. Until a
server has switched, its turns are still understood by the old model and the
actions answer them from the old model's content version (bot.content.pinning),
so NLU and content never mix.

Rules: a model whose evaluation did not pass cannot be published (409) unless it
has been live before (roll back); the person who edited the draft cannot publish
it alone (YJS_ONE_PERSON_TEAM=1 allows it for a team of one).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.clock import now
from bot.content.store import ContentStore, NotFound, files_hash, snapshot
from bot.content.tables import ContentLive, ContentVersion, TrainedModel
from bot.db import session_factory
from bot.staff.audit import SYSTEM, Actor, AuditLog


class PublishRefused(Exception):
    """409 (why, in plain words) or 403 (`forbidden`) for the four-eyes rule."""

    def __init__(self, status: int, code: str, why: list[str]):
        super().__init__("; ".join(why))
        self.status, self.code, self.why = status, code, why


def one_person_team() -> bool:
    return os.environ.get("YJS_ONE_PERSON_TEAM", "").strip().lower() in ("1", "true", "yes", "on")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class LiveModel:
    id: str
    path: Path
    sha256: str
    rasa_model_id: str
    content_version: int


class Models:
    def __init__(self, sessions: sessionmaker | None = None, audit: AuditLog | None = None):
        self._sessions = sessions or session_factory()
        self._audit = audit or AuditLog(self._sessions)

    def register(self, path: Path, version_id: int, trained_by: str | None, seconds: float | None = None,
                 components: dict | None = None) -> str:
        from bot.content.training import rasa_model_id

        model_id = path.name.removesuffix(".tar.gz")
        with self._sessions.begin() as s:
            row = s.get(TrainedModel, model_id) or TrainedModel(id=model_id, created_at=now(), ever_live=0)
            row.rasa_model_id = rasa_model_id(path)
            row.content_version_id = version_id
            row.path, row.sha256 = str(path), sha256_file(path)
            row.trained_by, row.seconds = trained_by, seconds
            if components is not None:
                row.evaluation = {"components": components}
            s.add(row)
        return model_id

    def register_baseline(self, path: Path) -> str:
        """`make run`'s model of data/ becomes live when nothing is live yet (first start),
        with data/ as its content version: the seed and the console agree from the start."""
        with self._sessions.begin() as s:
            live = s.get(ContentLive, 1)
            if live is not None:
                current = s.get(TrainedModel, live.model_id)
                if current is not None and Path(current.path).exists():
                    return live.model_id
                s.delete(live)  # its file is gone (models/ cleaned): data/'s model again
                s.flush()
            store = ContentStore(self._sessions)
            files = snapshot()
            h = files_hash(files)
            version = s.execute(select(ContentVersion).where(ContentVersion.content_hash == h,
                                                             ContentVersion.state != "draft")
                                .limit(1)).scalar_one_or_none()
            if version is None:
                version = store._baseline(s)
                if version.content_hash != h:
                    version = ContentVersion(state="frozen", files=files, content_hash=h, note="data/",
                                             created_by="system", created_at=now(), editors=[])
                    s.add(version)
                    s.flush()
            version_id = version.id
        model_id = self.register(path, version_id, "system")
        with self._sessions.begin() as s:
            s.add(ContentLive(id=1, model_id=model_id, published_by="system", published_at=now()))
            self._audit.record("model.publish", actor=SYSTEM, target=f"model:{model_id}",
                               detail={"content_version": version_id, "why": "first start"}, session=s)
            s.get(TrainedModel, model_id).ever_live = 1
        return model_id

    def get(self, model_id: str) -> dict:
        with self._sessions.begin() as s:
            row = s.get(TrainedModel, model_id)
            if row is None:
                raise NotFound(model_id)
            return self._json(row, self._live_id(s))

    def _live_id(self, s) -> str | None:
        live = s.get(ContentLive, 1)
        return live.model_id if live else None

    def live(self) -> LiveModel | None:
        with self._sessions.begin() as s:
            live = s.get(ContentLive, 1)
            if live is None:
                return None
            row = s.get(TrainedModel, live.model_id)
            return LiveModel(row.id, Path(row.path), row.sha256, row.rasa_model_id, row.content_version_id)

    def list(self) -> list[dict]:
        with self._sessions.begin() as s:
            live = self._live_id(s)
            rows = s.execute(select(TrainedModel).order_by(TrainedModel.created_at.desc())).scalars().all()
            return [self._json(r, live) for r in rows]

    @staticmethod
    def _json(r: TrainedModel, live: str | None) -> dict:
        evaluation = r.evaluation or {}
        public = {k: v for k, v in evaluation.items() if k not in ("raw",)}
        return {"id": r.id, "created": r.created_at.isoformat(), "live": r.id == live,
                "content_version": r.content_version_id, "rasa_model_id": r.rasa_model_id,
                "ever_live": bool(r.ever_live), "trained_by": r.trained_by, "seconds": r.seconds,
                "evaluation": public.get("result"), "components": public.get("components")}

    def content_version_of(self, rasa_model_id: str) -> int | None:
        with self._sessions.begin() as s:
            return s.execute(select(TrainedModel.content_version_id)
                             .where(TrainedModel.rasa_model_id == rasa_model_id).limit(1)).scalar_one_or_none()

    # evaluation
    def raw_evaluation(self, model_id: str, progress=None) -> dict:
        """The model's own scores on the held-out set (computed once, kept)."""
        from bot.content.evaluation import evaluate

        with self._sessions.begin() as s:
            row = s.get(TrainedModel, model_id)
            if row.evaluation and row.evaluation.get("raw"):
                return row.evaluation["raw"]
            path = Path(row.path)
        raw = evaluate(path, progress=progress)
        with self._sessions.begin() as s:
            row = s.get(TrainedModel, model_id)
            row.evaluation = {**(row.evaluation or {}), "raw": raw}
        return raw

    def evaluate(self, model_id: str, progress=None) -> dict:
        """Score the model and the live one on the same set; keep the comparison."""
        from bot.content.evaluation import compare

        live = self.live()
        live_raw = self.raw_evaluation(live.id) if live and live.id != model_id else None
        result = compare(self.raw_evaluation(model_id, progress), live_raw)
        with self._sessions.begin() as s:
            row = s.get(TrainedModel, model_id)
            row.evaluation = {**(row.evaluation or {}), "result": result}
        self._audit.record("editor.evaluation", actor=SYSTEM, target=f"model:{model_id}",
                           detail={"intent_accuracy": result["intent_accuracy"],
                                   "bundle_accuracy": result["bundle_accuracy"],
                                   "passed": result["passed"],
                                   "live_model": live.id if live else None})
        return result

    # publishing
    def publish(self, model_id: str, actor: Actor) -> dict:
        from bot.content.store import materialised
        from bot.kb.loader import load_knowledge_base
        from bot.kb.seed import seed

        with self._sessions.begin() as s:
            row = s.get(TrainedModel, model_id)
            if row is None:
                raise NotFound(model_id)
            live = s.get(ContentLive, 1)
            previous = live.model_id if live else None
            if previous == model_id:
                return {"model": model_id, "previous": previous, "changed": False}
            result = (row.evaluation or {}).get("result")
            if not row.ever_live:
                if result is None:
                    raise PublishRefused(409, "not_evaluated", ["这个模型还没有完成评估，不能发布。"])
                if not result.get("passed"):
                    raise PublishRefused(409, "evaluation_failed", result.get("why") or ["评估未通过。"])
                version = s.get(ContentVersion, row.content_version_id)
                if actor.name in (version.editors or []) and not one_person_team():
                    raise PublishRefused(403, "four_eyes", [
                        "这一版内容是您本人修改的，需要另一位发布人审核后发布。"])
            path = Path(row.path)
            if not path.exists() or sha256_file(path) != row.sha256:
                raise PublishRefused(409, "model_file", ["模型文件缺失或已损坏，不能发布。"])
            files = dict(s.get(ContentVersion, row.content_version_id).files)
            with materialised(files) as data_dir:
                kb = load_knowledge_base(data_dir)
            # the KB tables (applications, the backend) follow in the same transaction
            seed(s, kb)
            if live is None:
                s.add(ContentLive(id=1, model_id=model_id, published_by=actor.name, published_at=now()))
            else:
                live.model_id, live.published_by, live.published_at = model_id, actor.name, now()
            rollback = bool(row.ever_live)
            row.ever_live = 1
            self._audit.record("model.rollback" if rollback else "model.publish", actor=actor,
                               target=f"model:{model_id}",
                               detail={"from": previous, "content_version": row.content_version_id}, session=s)
            return {"model": model_id, "previous": previous, "changed": True, "rollback": rollback,
                    "content_version": row.content_version_id}


def rasa_servers() -> list[str]:
    """The Rasa servers to ask (RASA_SERVERS, comma-separated base URLs; default the local one)."""
    from bot.config import port

    given = [u.strip().rstrip("/") for u in os.environ.get("RASA_SERVERS", "").split(",") if u.strip()]
    return given or [f"http://127.0.0.1:{port('RASA_PORT', 5005)}"]


def server_status(models: Models, timeout: float = 3.0) -> list[dict]:
    """Which model each Rasa server is serving (GET /status with Rasa's token)."""
    from bot.config import rasa_token

    by_rasa_id = {m["rasa_model_id"]: m for m in models.list()}
    out = []
    for url in rasa_servers():
        entry = {"url": url, "model": None, "rasa_model_id": None, "up": False, "live": False}
        try:
            with urllib.request.urlopen(f"{url}/status?token={rasa_token()}", timeout=timeout) as resp:  # noqa: S310
                status = json.loads(resp.read())
            entry["up"] = True
            entry["rasa_model_id"] = status.get("model_id")
            ours = by_rasa_id.get(status.get("model_id"))
            entry["model"] = ours["id"] if ours else status.get("model_file")
            entry["live"] = bool(ours and ours["live"])
        except (OSError, ValueError) as exc:
            entry["error"] = type(exc).__name__
        out.append(entry)
    return out


SYSTEM_ACTOR = SYSTEM
