"""make bench-editor: what a content editor waits for, measured in one run on this machine.

1. full training through the editors' trainer (bot.content.training: data export,
   `rasa train` in a workspace, register, evaluation on the held-out set) from an
   empty Rasa cache, against a plain `rasa train` of the very same workspace (same
   data, config and domain, its own empty cache) — the ratio is the trainer's overhead;
2. a responses-only retrain: one bundle's answer text (its description, which only
   the knowledge base uses) edited, trained again with the trainer's cache — Rasa's
   cache should restore every component instead of training it;
3. an NLU retrain (a new colloquial synonym) for comparison.

Publish→live time (Rasa switching through the model server) is measured by the
end-to-end test tests/editor/test_editor_publish.py (helper "edit").

Everything runs against a scratch database and directories (nothing of var/, models/
or .rasa/ is touched). `--tiny` uses tests/fixtures/tiny_config.yml and a small part
of the NLU (a quick check of the benchmark itself). Results: results/bench-editor.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TINY_NLU = ("general.yml", "bundles_personal.yml", "regex.yml")


def _scratch(tiny: bool) -> Path:
    """Environment for a private run; set before anything of bot/ is imported."""
    tmp = Path(tempfile.mkdtemp(prefix="yjs-bench-editor-"))
    os.environ.update(DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}", YJS_VAR_DIR=str(tmp / "var"),
                      YJS_MODELS_DIR=str(tmp / "models"),
                      RASA_CACHE_DIRECTORY=str(tmp / "cache-trainer"),
                      RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2",
                      SQLALCHEMY_SILENCE_UBER_WARNING="1", LOG_LEVEL="WARNING")
    os.environ.pop("TRACKER_DB_URL", None)
    if tiny:
        os.environ["YJS_TRAIN_CONFIG"] = str(ROOT / "tests" / "fixtures" / "tiny_config.yml")
    subprocess.run([sys.executable, "-m", "bot", "init"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return tmp


def _train_through_the_trainer(trainings, version) -> dict:
    from bot.content.training import work
    from bot.staff.audit import Actor

    job_id = trainings.request(Actor("bench-editor"), version)
    start = time.perf_counter()
    work(trainings, once=True)
    wall = time.perf_counter() - start
    job = trainings.get(job_id)
    if job["state"] != "succeeded":
        raise SystemExit(f"training {job_id} failed: {job['error']}\n{job['log'][-3:]}")
    train = next((e.get("train_seconds") for e in job["log"] if "train_seconds" in e), None)
    parts = next((e for e in job["log"] if "trained" in e), {})
    return {"job": job_id, "wall_seconds": round(wall, 1), "train_seconds": train,
            "job_seconds": job["seconds"], "trained": parts.get("trained", []),
            "cached": parts.get("cached", []),
            "intent_accuracy": (job["evaluation"] or {}).get("intent_accuracy")}


def _plain_rasa_train(files: dict[str, str], tmp: Path) -> dict:
    """`rasa train` of the same workspace the trainer builds, with an empty cache of its own."""
    from bot.content.training import workspace
    from bot.nlu_export import export

    ws = workspace(999_999, files)
    export(build_dir=ws / "build", data_dir=ws / "data")
    env = {**os.environ, "RASA_CACHE_DIRECTORY": str(tmp / "cache-plain"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "rasa", "train", "--domain", "domain.yml", "--data", "data/nlu",
           "data/rules.yml", "data/stories.yml", "--config", "config.yml", "--out", str(ws / "out"),
           "--fixed-model-name", "plain"]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ws, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    shutil.rmtree(ws, ignore_errors=True)
    return {"seconds": round(seconds, 1)}


def say(*args) -> None:
    print(*args, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny config and NLU (a quick check)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    tmp = _scratch(args.tiny)

    import logging

    from bot.content.store import ContentStore
    from bot.content.training import Trainings
    from bot.staff.audit import Actor

    logging.getLogger().setLevel(logging.WARNING)
    for name in ("rasa", "tensorflow", "absl", "bot", "nlu"):
        logging.getLogger(name).setLevel(logging.WARNING)
    store, trainings, actor = ContentStore(), Trainings(), Actor("bench-editor")
    if args.tiny:
        data = tmp / "data"
        shutil.copytree(ROOT / "data", data, ignore=shutil.ignore_patterns("generated", "demo"))
        for path in (data / "nlu").glob("*.yml"):
            if path.name not in TINY_NLU:
                path.unlink()
        store.import_(actor, data)
        version = "draft"
    else:
        version = "live"
    files = store.files(version)
    cores = os.cpu_count()

    say(f"editor benchmark ({'tiny' if args.tiny else 'full data'}), {cores} cores, scratch {tmp}")
    full = _train_through_the_trainer(trainings, version)
    say(f"  full training via the trainer: {full['train_seconds']} s training "
          f"({full['job_seconds']} s with data export and evaluation)")
    plain = _plain_rasa_train(files, tmp)
    say(f"  plain rasa train, same data:   {plain['seconds']} s")

    bundle = store.bundle("newborn")
    bundle["description"] = bundle["description"] + "（基准测试修改）"
    store.put_bundle("newborn", bundle, actor)
    responses = _train_through_the_trainer(trainings, "draft")
    say(f"  responses-only retrain:        {responses['train_seconds']} s training, "
          f"{len(responses['cached'])} components from cache, trained {responses['trained']}")

    store.add_synonym("newborn", "添丁进口", actor)
    nlu = _train_through_the_trainer(trainings, "draft")
    say(f"  NLU retrain (one synonym):     {nlu['train_seconds']} s training, "
          f"{len(nlu['cached'])} from cache, trained {nlu['trained']}")

    result = {"cores": cores, "tiny": args.tiny, "full": full, "plain_rasa_train": plain,
              "responses_only": responses, "nlu_synonym": nlu,
              "ratio_trainer_vs_plain": round(full["train_seconds"] / plain["seconds"], 2),
              "ratio_responses_vs_full": round(responses["train_seconds"] / full["train_seconds"], 2),
              "ratio_nlu_vs_full": round(nlu["train_seconds"] / full["train_seconds"], 2)}
    say(f"  ratios: trainer/plain {result['ratio_trainer_vs_plain']}, "
          f"responses-only/full {result['ratio_responses_vs_full']}, "
          f"synonym/full {result['ratio_nlu_vs_full']}")
    out = ROOT / "results" / ("bench-editor-tiny.json" if args.tiny else "bench-editor.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
