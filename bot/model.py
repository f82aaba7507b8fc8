"""Train the Rasa model only when none matches the current content (fingerprint)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bot.config import BUILD_DIR, MODELS_DIR, ROOT
from bot.nlu_export import export

MODEL_PREFIX = "yjs-"


def training_data_paths() -> list[Path]:
    """What `rasa train` and `rasa data validate` read: ours plus the generated KB data."""
    return [ROOT / "data" / "nlu", ROOT / "data" / "rules.yml", ROOT / "data" / "stories.yml"]


def _inputs() -> list[Path]:
    files = [ROOT / "config.yml", ROOT / "domain.yml", ROOT / "data" / "normalization.yml",
             ROOT / "data" / "places.yml"]
    for base in (*training_data_paths(), BUILD_DIR / "jieba", ROOT / "nlu"):
        if base.is_dir():
            files += sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in {".yml", ".py", ".dict"})
        elif base.exists():
            files.append(base)
    return files


def fingerprint() -> str:
    """Hash of everything that shapes the model (after regenerating the KB data)."""
    import rasa

    export()
    h = hashlib.sha256(f"rasa {rasa.__version__}".encode())
    for path in _inputs():
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def model_path(fp: str | None = None) -> Path:
    return MODELS_DIR / f"{MODEL_PREFIX}{fp or fingerprint()}.tar.gz"


def rasa_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    return env


def train(out_dir: Path, name: str, config: Path = ROOT / "config.yml", nlu_only: bool = False) -> Path:
    if nlu_only:
        data = ["nlu", "--nlu", str(ROOT / "data" / "nlu")]
    else:
        data = ["--domain", str(ROOT / "domain.yml"), "--data",
                *(str(p) for p in training_data_paths() if p.exists())]
    # A fresh directory, so Rasa never answers "nothing changed" with an older model,
    # while its component cache (.rasa/cache) still spares unchanged parts, e.g. DIET
    # after an edit of rules or the domain only.
    with tempfile.TemporaryDirectory(prefix=".train-", dir=out_dir) as tmp:
        cmd = [sys.executable, "-m", "rasa", "train", *data, "--config", str(config),
               "--out", tmp, "--fixed-model-name", name]
        subprocess.run(cmd, cwd=ROOT, env=rasa_env(), check=True)
        target = out_dir / f"{name}.tar.gz"
        os.replace(Path(tmp) / f"{name}.tar.gz", target)
    return target


def ensure_model() -> Path:
    """Path of the model for the current content, training it first if needed."""
    fp = fingerprint()
    path = model_path(fp)
    if path.exists():
        return path
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    trained = train(MODELS_DIR, f"{MODEL_PREFIX}{fp}")
    for old in MODELS_DIR.glob(f"{MODEL_PREFIX}*.tar.gz"):
        if old != trained:
            old.unlink()
    return trained
