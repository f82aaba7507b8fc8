"""The training queue and its worker (`python -m bot.content.worker`, its own process).

Why a separate process: training takes the CPU for minutes and imports TensorFlow;
the serving Rasa servers and the backend must not wait for it. One worker runs one
training at a time, oldest request first (a request is claimed atomically, so a
second worker would never run the same one).

A job: the content version is written into a workspace (var/trainings/<id>/data
plus config.yml and domain.yml), the NLU resources are generated from it, `rasa
train` runs there with the project's component cache (.rasa/cache), so a part
whose inputs did not change is restored, not retrained (an edit of responses or of
the knowledge base's wording leaves the intent classifier alone). Progress comes
from Rasa's own training log (component started / finished / restored from
cache, epochs) and is written to the job's row; then the model is test-loaded
and evaluated next to the live model (bot.content.evaluation).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import time
import traceback
from pathlib import Path

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from bot.clock import now
from bot.config import MODELS_DIR, ROOT, VAR_DIR
from bot.content.store import ContentStore, materialise
from bot.content.tables import ContentVersion, Training
from bot.db import session_factory
from bot.staff.audit import SYSTEM, Actor, AuditLog

VERSIONS_DIR = MODELS_DIR / "versions"
STATES = ("queued", "running", "evaluating", "succeeded", "failed")
START_RE = re.compile(r"Starting to train component '(\w+)'")
DONE_RE = re.compile(r"Finished training component '(\w+)'")
CACHED_RE = re.compile(r"Restored component '(\w+)' from cache")
EPOCH_RE = re.compile(r"Epochs:\s+(\d+)%")
# progress shares: data 0–0.1, training 0.1–0.8, evaluation 0.8–1.0
DATA, TRAIN, EVAL = 0.1, 0.8, 1.0


def train_config() -> Path:
    """The pipeline to train (YJS_TRAIN_CONFIG; tests use a small one)."""
    return Path(os.environ.get("YJS_TRAIN_CONFIG") or ROOT / "config.yml")


def cache_dir() -> Path:
    return Path(os.environ.get("RASA_CACHE_DIRECTORY") or ROOT / ".rasa" / "cache")


class TrainingError(RuntimeError):
    """A failure said in plain words (`str`), with the technical detail apart."""

    def __init__(self, plain: str, detail: str = ""):
        super().__init__(plain)
        self.detail = detail


class Trainings:
    def __init__(self, sessions: sessionmaker | None = None, audit: AuditLog | None = None):
        self._sessions = sessions or session_factory()
        self._audit = audit or AuditLog(self._sessions)
        self._store = ContentStore(self._sessions, self._audit)

    def request(self, actor: Actor, version: int | str = "draft") -> int:
        """Queue a training of the draft (or a given version); the version is frozen."""
        with self._sessions.begin() as s:
            row = self._store.freeze(s, version)
            job = Training(content_version_id=row.id, state="queued", progress=0.0, stage="queued",
                           log=[], requested_by=actor.name, created_at=now())
            s.add(job)
            s.flush()
            self._audit.record("editor.training", actor=actor, target=f"training:{job.id}",
                               detail={"content_version": row.id}, session=s)
            return job.id

    def get(self, job_id: int) -> dict | None:
        with self._sessions.begin() as s:
            job = s.get(Training, job_id)
            return None if job is None else self._json(s, job)

    def list(self, limit: int = 50) -> list[dict]:
        with self._sessions.begin() as s:
            rows = s.execute(select(Training).order_by(Training.id.desc()).limit(limit)).scalars().all()
            return [self._json(s, r) for r in rows]

    def _json(self, s, job: Training) -> dict:
        from bot.content.tables import TrainedModel

        model = s.get(TrainedModel, job.model_id) if job.model_id else None
        evaluation = (model.evaluation or {}).get("result") if model is not None else None
        components = (model.evaluation or {}).get("components") if model is not None else None
        position = None
        if job.state == "queued":
            position = s.execute(select(Training.id).where(Training.state == "queued",
                                                           Training.id < job.id)).all().__len__()
        return {"id": job.id, "state": job.state, "progress": round(job.progress, 3), "stage": job.stage,
                "content_version": job.content_version_id, "model": job.model_id,
                "evaluation": evaluation, "components": components, "error": job.error,
                "queue_position": position,
                "requested_by": job.requested_by,
                "created": job.created_at.isoformat() if job.created_at else None,
                "started": job.started_at.isoformat() if job.started_at else None,
                "finished": job.finished_at.isoformat() if job.finished_at else None,
                "log": job.log or [],
                "seconds": (job.finished_at - job.started_at).total_seconds()
                if job.finished_at and job.started_at else None}

    # the worker's side
    def claim(self) -> int | None:
        with self._sessions.begin() as s:
            for job_id in s.execute(select(Training.id).where(Training.state == "queued")
                                    .order_by(Training.id)).scalars():
                took = s.execute(update(Training).where(Training.id == job_id, Training.state == "queued")
                                 .values(state="running", started_at=now(), stage="data", progress=0.01))
                if took.rowcount == 1:
                    return job_id
        return None

    def progress(self, job_id: int, progress: float, stage: str, state: str | None = None, **extra) -> None:
        with self._sessions.begin() as s:
            job = s.get(Training, job_id)
            job.progress = max(job.progress, min(1.0, progress))
            job.stage = stage[:120]
            if state:
                job.state = state
            entry = {"at": round(time.time(), 2), "stage": stage, "progress": round(job.progress, 3), **extra}
            job.log = [*(job.log or []), entry][-200:]
            for k, v in extra.items():
                if k in ("model_id", "error"):
                    setattr(job, k, v)

    def finish(self, job_id: int, *, model_id: str | None = None, error: str | None = None) -> None:
        with self._sessions.begin() as s:
            job = s.get(Training, job_id)
            job.state = "failed" if error else "succeeded"
            job.finished_at = now()
            job.model_id = model_id or job.model_id
            job.error = error
            if not error:
                job.progress, job.stage = 1.0, "done"
            job.log = [*(job.log or []), {"at": round(time.time(), 2), "stage": job.stage if not error else
                                          "failed", "progress": round(job.progress, 3)}]
            self._audit.record("editor.training_done", actor=SYSTEM, outcome="failed" if error else "ok",
                               target=f"training:{job_id}", detail={"model": job.model_id, "error": error},
                               session=s)

    def version_files(self, job_id: int) -> tuple[int, dict[str, str], str | None]:
        with self._sessions.begin() as s:
            job = s.get(Training, job_id)
            version = s.get(ContentVersion, job.content_version_id)
            return version.id, dict(version.files), job.requested_by


def _components(config: Path) -> int:
    raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    return max(1, len(raw.get("pipeline") or []) + len(raw.get("policies") or []))


def workspace(job_id: int, files: dict[str, str]) -> Path:
    """var/trainings/<id>: the version's data/ with config.yml and domain.yml beside it."""
    ws = VAR_DIR / "trainings" / str(job_id)
    if ws.exists():
        shutil.rmtree(ws)
    materialise(files, ws / "data")
    config = yaml.safe_load(train_config().read_text(encoding="utf-8"))
    # Files a component reads by path (normalisation table, places) are named by their
    # content here: Rasa's cache keys a component by its config and training data, so an
    # edit of only such a file must change the config, or the old component is restored.
    for component in config.get("pipeline") or []:
        for key in ("table", "places"):
            rel = component.get(key)
            if isinstance(rel, str) and (ws / rel).is_file():
                digest = hashlib.sha256((ws / rel).read_bytes()).hexdigest()[:12]
                named = Path(rel).with_name(f"{Path(rel).stem}-{digest}{Path(rel).suffix}")
                shutil.copy(ws / rel, ws / named)
                component[key] = named.as_posix()
    (ws / "config.yml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                                   encoding="utf-8")
    shutil.copy(ROOT / "domain.yml", ws / "domain.yml")
    return ws


def rasa_model_id(path: Path) -> str:
    """The model_id Rasa writes into the model's metadata (it is also in every event the
    model's server records, which is how the actions know which content to answer from)."""
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name.endswith("metadata.json"):
                return json.load(tar.extractfile(member))["model_id"]
    raise TrainingError("训练出的模型文件不完整（缺少元数据）。")


def run_job(trainings: Trainings, job_id: int) -> str:
    """Train, register, evaluate; returns the model id. Raises TrainingError."""
    from bot.content.models import Models
    from bot.nlu_export import export

    version_id, files, requested_by = trainings.version_files(job_id)
    started = time.monotonic()
    trainings.progress(job_id, 0.02, "data: writing the content version")
    ws = workspace(job_id, files)
    try:
        export(build_dir=ws / "build", data_dir=ws / "data")
    except Exception as exc:  # noqa: BLE001 - said in plain words
        raise TrainingError("无法从内容生成训练数据，请检查最近的修改。", repr(exc)) from exc
    trainings.progress(job_id, DATA, "data: training data ready")
    # no long digit runs: the audit log masks those as if they were phone numbers
    name = f"c{version_id}-t{job_id}-{secrets.token_hex(3)}"
    VERSIONS_DIR.mkdir(parents=True, exist_ok=True)
    total = _components(ws / "config.yml")
    done, trained, cached = 0, [], []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "RASA_CACHE_DIRECTORY": str(cache_dir()), "TF_CPP_MIN_LOG_LEVEL": "2",
           "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
           "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO"}
    cmd = [sys.executable, "-m", "rasa", "train", "--domain", "domain.yml", "--data",
           "data/nlu", "data/rules.yml", "data/stories.yml", "--config", "config.yml",
           "--out", str(ws / "out"), "--fixed-model-name", name]
    tail: list[str] = []
    proc = subprocess.Popen(cmd, cwd=ws, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = [*tail, line.rstrip()][-40:]
        if m := START_RE.search(line):
            trainings.progress(job_id, DATA + (TRAIN - DATA) * done / total, f"training {m.group(1)}")
        elif m := DONE_RE.search(line):
            done += 1
            trained.append(m.group(1))
            trainings.progress(job_id, DATA + (TRAIN - DATA) * min(done, total) / total,
                               f"trained {m.group(1)}")
        elif m := CACHED_RE.search(line):
            done += 1
            cached.append(m.group(1))
            trainings.progress(job_id, DATA + (TRAIN - DATA) * min(done, total) / total,
                               f"from cache {m.group(1)}")
        elif m := EPOCH_RE.search(line):
            frac = int(m.group(1)) / 100
            trainings.progress(job_id, DATA + (TRAIN - DATA) * min(done + frac, total) / total,
                               f"epochs {m.group(1)}%")
    code = proc.wait()
    out = ws / "out" / f"{name}.tar.gz"
    if code != 0 or not out.exists():
        raise TrainingError(_plain(tail), "\n".join(tail[-15:]))
    target = VERSIONS_DIR / f"{name}.tar.gz"
    os.replace(out, target)
    seconds = round(time.monotonic() - started, 1)
    trainings.progress(job_id, TRAIN, "evaluation: loading the model", state="evaluating",
                       trained=trained, cached=cached, train_seconds=seconds)
    models = Models(trainings._sessions)
    model_id = models.register(target, version_id, requested_by, seconds,
                               components={"trained": trained, "cached": cached})
    trainings.progress(job_id, TRAIN + 0.02, "evaluation: the live model", model_id=model_id)
    try:
        models.evaluate(model_id, progress=lambda f: trainings.progress(
            job_id, TRAIN + (EVAL - TRAIN) * 0.9 * f, "evaluation: held-out set"))
    except Exception as exc:  # noqa: BLE001
        raise TrainingError("新模型无法加载或评估，不能发布。", repr(exc)) from exc
    shutil.rmtree(ws, ignore_errors=True)
    return model_id


def _plain(tail: list[str]) -> str:
    text = "\n".join(tail)
    if "MemoryError" in text or "Killed" in text:
        return "训练时内存不足。"
    if "InvalidDomain" in text or "domain" in text.lower() and "error" in text.lower():
        return "训练失败：对话配置（domain）有误。"
    if "YamlSyntaxException" in text or "YAMLError" in text:
        return "训练失败：某个训练数据文件格式有误。"
    if "intent" in text.lower() and ("not" in text.lower() or "unknown" in text.lower()):
        return "训练失败：训练例句中的意图有误。"
    return "训练失败，请查看技术详情或联系技术人员。"


def work(trainings: Trainings, stop=lambda: False, poll: float = 1.0, once: bool = False) -> None:
    while not stop():
        job_id = trainings.claim()
        if job_id is None:
            if once:
                return
            time.sleep(poll)
            continue
        try:
            model_id = run_job(trainings, job_id)
            trainings.finish(job_id, model_id=model_id)
        except TrainingError as exc:
            trainings.progress(job_id, 0, f"failed: {exc}", detail=exc.detail[-1500:])
            trainings.finish(job_id, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - the worker keeps serving the queue
            trainings.progress(job_id, 0, "failed", detail=traceback.format_exc()[-1500:])
            trainings.finish(job_id, error=f"训练意外中断：{type(exc).__name__}")
