"""Training time against accuracy for intent classifiers (README "Training time").

    python -m benchmarks.train_variants [NAME …]

Each variant is config.yml with its intent classifier swapped; the NLU is trained
alone (`rasa train nlu`) in a subprocess, timed (wall clock and CPU seconds, the
latter robust to other work on the machine), then scored on the held-out sets.
Results accumulate in results/variants-<fingerprint>.json.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bot.config import ROOT
from bot.model import fingerprint, rasa_env

RESULTS = ROOT / "results"

DIET = {"name": "DIETClassifier", "entity_recognition": False, "constrain_similarities": True,
        "model_confidence": "softmax", "random_seed": 7}
FEATURIZERS = [
    {"name": "RegexFeaturizer", "use_word_boundaries": False, "case_sensitive": False},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char", "min_ngram": 1, "max_ngram": 3},
]
VARIANTS: dict[str, list[dict]] = {
    "diet-80e-2l": [*FEATURIZERS, {**DIET, "epochs": 80}],
    "diet-40e-2l": [*FEATURIZERS, {**DIET, "epochs": 40}],
    "diet-80e-0l": [*FEATURIZERS, {**DIET, "epochs": 80, "number_of_transformer_layers": 0}],
    "diet-30e-0l": [*FEATURIZERS, {**DIET, "epochs": 30, "number_of_transformer_layers": 0}],
    "rasa-logreg": [*FEATURIZERS, {"name": "LogisticRegressionClassifier", "max_iter": 1000}],
    "linear": [{"name": "nlu.intent_classifier.LinearIntentClassifier"}],
    "linear-c10": [{"name": "nlu.intent_classifier.LinearIntentClassifier", "C": 10}],
    "linear-c100": [{"name": "nlu.intent_classifier.LinearIntentClassifier", "C": 100}],
}
CLASSIFIERS = {"DIETClassifier", "LogisticRegressionClassifier",
               "nlu.intent_classifier.LinearIntentClassifier"}
FEATURIZER_NAMES = {f["name"] for f in FEATURIZERS}


def variant_config(components: list[dict]) -> dict:
    """config.yml with its featurizers and intent classifier replaced by `components`."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    pipeline, out, placed = config["pipeline"], [], False
    for step in pipeline:
        if step["name"] in FEATURIZER_NAMES or step["name"] in CLASSIFIERS:
            if not placed:
                out += copy.deepcopy(components)
                placed = True
            continue
        out.append(step)
    config["pipeline"] = out
    return config


def train_timed(name: str, config: dict, out_dir: Path) -> tuple[Path, float, float]:
    """Train the NLU of `config`; (model, wall seconds, CPU seconds of the training)."""
    with tempfile.TemporaryDirectory(prefix=".variant-", dir=out_dir) as tmp:
        cfg = Path(tmp) / "config.yml"
        cfg.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        cmd = [sys.executable, "-m", "rasa", "train", "nlu", "--nlu", str(ROOT / "data" / "nlu"),
               "--config", str(cfg), "--out", tmp, "--fixed-model-name", name]
        env = {**rasa_env(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        target = out_dir / f"{name}.tar.gz"
        os.replace(Path(tmp) / f"{name}.tar.gz", target)
    return target, wall, cpu


def main(argv: list[str]) -> int:
    from benchmarks.common import load_agent, parse_all
    from benchmarks.nlu_eval import held_out_sets, scores

    names = argv or list(VARIANTS)
    fp = fingerprint()
    out_dir = RESULTS / f"variants-{fp}"
    out_dir.mkdir(parents=True, exist_ok=True)
    report_file = out_dir / "variants.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    sets = held_out_sets()
    for name in names:
        # No cache: the featurizers of an earlier variant must not make this one look fast.
        os.environ["RASA_MAX_CACHE_SIZE"] = "0"
        path, wall, cpu = train_timed(name, variant_config(VARIANTS[name]), out_dir)
        agent = load_agent(path)
        row = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}
        for set_name, cases in sets.items():
            parses, _ = parse_all(agent, [c["text"] for c in cases])
            s = scores(cases, parses)
            row[set_name] = {k: round(s[k], 3) for k in ("intent_accuracy", "bundle_accuracy")}
        report[name] = row
        report_file.write_text(json.dumps(report, indent=1, ensure_ascii=False))
        print(name, json.dumps(row, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
