"""Train our NLU and the vanilla baseline on the same data, once per fingerprint."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.config import ROOT
from bot.model import fingerprint, train

RESULTS = ROOT / "results"
# Rasa installs uvloop's policy, which has no implicit loop: keep one for all parses.
_LOOP = asyncio.new_event_loop()
CONFIGS = {"ours": ROOT / "config.yml", "baseline": ROOT / "benchmarks" / "baseline_config.yml"}
TEST_SET = ROOT / "tests" / "nlu" / "test_set.yml"


@dataclass
class Trained:
    name: str
    path: Path
    train_seconds: float


def data_fingerprint(config: Path) -> str:
    """What the baseline depends on: its config and the training data (not our code),
    so editing our components does not retrain it."""
    import rasa

    fingerprint()  # regenerates data/nlu/generated
    h = hashlib.sha256(f"rasa {rasa.__version__}".encode())
    for path in [config, *sorted((ROOT / "data" / "nlu").rglob("*.yml"))]:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def trained_models(names: list[str] | None = None) -> dict[str, Trained]:
    """Both NLU models for the current content; training times measured in this run
    or, when the models already exist for this fingerprint, read from that run.
    Ours is keyed by the full fingerprint, the baseline by its data only."""
    models = {}
    for name, config in CONFIGS.items():
        if names is not None and name not in names:
            continue
        key = fingerprint() if name == "ours" else data_fingerprint(config)
        out = RESULTS / f"nlu-{name}-{key}"
        out.mkdir(parents=True, exist_ok=True)
        timing_file = out / "train_seconds.json"
        timings = json.loads(timing_file.read_text()) if timing_file.exists() else {}
        path = out / f"{name}.tar.gz"
        if not path.exists() or name not in timings:
            start = time.perf_counter()
            train(out, name, config=config, nlu_only=True)
            timings[name] = time.perf_counter() - start
            timing_file.write_text(json.dumps(timings))
        models[name] = Trained(name, path, timings[name])
    return models


def load_agent(path: Path):
    """A Rasa agent for parsing. Rasa's structlog is configured at INFO first:
    unconfigured, it prints every parse at debug level with the message's text,
    which would show held-out messages to whoever runs the evaluation."""
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)
    return Agent.load(str(path))


def parse_all(agent, texts: list[str]) -> tuple[list[dict], list[float]]:
    async def run():
        results, seconds = [], []
        for text in texts:
            start = time.perf_counter()
            results.append(await agent.parse_message(text))
            seconds.append(time.perf_counter() - start)
        return results, seconds

    return _LOOP.run_until_complete(run())


def test_set() -> list[dict]:
    return yaml.safe_load(TEST_SET.read_text(encoding="utf-8"))


def predicted_bundle(parse: dict) -> str | None:
    for entity in parse.get("entities", []):
        if entity.get("entity") == "bundle":
            return entity.get("value")
    return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def prepare_database() -> Path:
    """Migrate and seed the scratch database (knowledge base, demo citizens); the model."""
    from bot.applications.shared_data import seed_demo_records
    from bot.db import session_scope
    from bot.kb.seed import seed
    from bot.migrate import upgrade
    from bot.model import ensure_model

    model = ensure_model()
    upgrade()
    with session_scope() as session:
        seed(session)
        seed_demo_records(session)
    return model


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
