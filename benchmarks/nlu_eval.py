"""make eval: our NLU beside the vanilla baseline (Rasa's default pipeline for zh).

    python -m benchmarks.nlu_eval [--no-cv] [--folds 5]

1. The held-out sets in tests/nlu, none of them used for training:
   test_set.yml (written with the training data, kept apart), independent_set.yml
   (written independently of data/nlu; only ever scored) and dev_set.yml (written
   the same way; its errors may be studied by category, never message by message)
   and fresh_set.yml (written last, without seeing data/nlu or the other sets; scored only).
   For each: intent accuracy, bundle accuracy (the right bundle, or none when none
   is meant), bundle recall, out-of-scope look-alikes given no bundle, fallback
   rate; accuracy by style; per-intent F1 and the worst confusions.
2. 5-fold cross-validation on the training data (stratified by intent; lookup
   tables, synonyms and regexes stay in every fold), both pipelines.
3. Training time of the full NLU of each pipeline.

Models are trained once per content fingerprint (results/nlu-<fp>/), and the
cross-validation folds once per fingerprint too, so a second run only scores.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from benchmarks.common import (
    CONFIGS,
    RESULTS,
    load_agent,
    parse_all,
    predicted_bundle,
    trained_models,
)

FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
SETS = {"test_set": "tests/nlu/test_set.yml", "independent_set": "tests/nlu/independent_set.yml",
        "dev_set": "tests/nlu/dev_set.yml", "fresh_set": "tests/nlu/fresh_set.yml"}
METRICS = ("intent_accuracy", "bundle_accuracy", "bundle_recall", "no_bundle_precision",
           "oos_no_bundle", "fallback_rate")


def held_out_sets() -> dict[str, list[dict]]:
    """The held-out sets present in tests/nlu (never used for training)."""
    import yaml

    from bot.config import ROOT

    out = {}
    for name, rel in SETS.items():
        path = ROOT / rel
        if path.exists():
            out[name] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return out


def style_of(case: dict) -> str:
    return str(case.get("style") or "-")


def scores(cases: list[dict], parses: list[dict]) -> dict:
    intents = [p["intent"]["name"] for p in parses]
    bundles = [predicted_bundle(p) for p in parses]
    gold_i = [c["intent"] for c in cases]
    gold_b = [c.get("bundle") for c in cases]
    n = len(cases)
    labels = sorted(set(gold_i))
    f1 = {}
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold_i, intents, strict=True))
        fp = sum(p == label and g != label for g, p in zip(gold_i, intents, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold_i, intents, strict=True))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1[label] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    with_bundle = [i for i, b in enumerate(gold_b) if b]
    without = [i for i, b in enumerate(gold_b) if not b]
    oos = [i for i, c in enumerate(cases) if c["intent"] == OUT_OF_SCOPE]
    by_style: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for i, c in enumerate(cases):
        row = by_style[style_of(c)]
        row[0] += 1
        row[1] += gold_i[i] == intents[i]
        row[2] += gold_b[i] == bundles[i]
    return {
        "n": n,
        "intent_accuracy": sum(g == p for g, p in zip(gold_i, intents, strict=True)) / n,
        "bundle_accuracy": sum(g == p for g, p in zip(gold_b, bundles, strict=True)) / n,
        "bundle_recall": sum(gold_b[i] == bundles[i] for i in with_bundle) / max(1, len(with_bundle)),
        "no_bundle_precision": sum(bundles[i] is None for i in without) / max(1, len(without)),
        "oos_no_bundle": sum(bundles[i] is None for i in oos) / max(1, len(oos)),
        "fallback_rate": intents.count(FALLBACK) / n,
        "f1": f1,
        "by_style": {s: {"n": r[0], "intent": r[1] / r[0], "bundle": r[2] / r[0]}
                     for s, r in sorted(by_style.items())},
        "confusions": Counter((g, p) for g, p in zip(gold_i, intents, strict=True) if g != p),
        "bundle_errors": Counter((gold_b[i] or "-", bundles[i] or "-")
                                 for i in range(n) if gold_b[i] != bundles[i]),
    }


# -- cross-validation ------------------------------------------------------
def _folds(k: int, seed: int = 13):
    """k stratified folds of the training data: [(train TrainingData, test examples)]."""
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.config import ROOT
    from bot.nlu_export import export

    export()
    data = load_data(str(ROOT / "data" / "nlu"))
    by_intent: dict[str, list] = defaultdict(list)
    for m in data.intent_examples:
        by_intent[m.get("intent")].append(m)
    fold_of: dict[int, int] = {}
    rng = random.Random(seed)
    for intent in sorted(by_intent):
        examples = by_intent[intent]
        rng.shuffle(examples)
        for j, m in enumerate(examples):
            fold_of[id(m)] = j % k
    out = []
    for f in range(k):
        train = [m for m in data.training_examples if fold_of.get(id(m), -1) != f]
        test = [m for m in data.intent_examples if fold_of[id(m)] == f]
        td = TrainingData(training_examples=train, entity_synonyms=data.entity_synonyms,
                          regex_features=data.regex_features, lookup_tables=data.lookup_tables)
        out.append((td, test))
    return out


def _case(message) -> dict:
    bundle = next((e.get("value") for e in message.get("entities") or []
                   if e.get("entity") == "bundle"), None)
    return {"text": message.get("text"), "intent": message.get("intent"), "bundle": bundle}


def cross_validate(name: str, config: Path, k: int, out_dir: Path) -> dict:
    """Mean and spread of intent and bundle accuracy over k folds (cached)."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter

    from bot.config import ROOT
    from bot.model import rasa_env

    cache = out_dir / f"cv-{name}-{k}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    folds, seconds = [], []
    for f, (train, test) in enumerate(_folds(k)):
        with tempfile.TemporaryDirectory(prefix=".cv-", dir=out_dir) as tmp:
            data = Path(tmp) / "nlu.yml"
            RasaYAMLWriter().dump(data, train)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "rasa", "train", "nlu", "--nlu", str(data),
                            "--config", str(config), "--out", tmp, "--fixed-model-name", "m"],
                           cwd=ROOT, env=rasa_env(), check=True, stdout=subprocess.DEVNULL)
            seconds.append(time.perf_counter() - start)
            cases = [_case(m) for m in test]
            parses, _ = parse_all(load_agent(Path(tmp) / "m.tar.gz"), [c["text"] for c in cases])
            s = scores(cases, parses)
            folds.append({"intent_accuracy": s["intent_accuracy"], "bundle_accuracy": s["bundle_accuracy"]})
        print(f"  {name} fold {f + 1}/{k}: {json.dumps(folds[-1])}", flush=True)
    result = {key: _mean_sd([fold[key] for fold in folds]) for key in folds[0]}
    result["train_seconds"] = _mean_sd(seconds)
    cache.write_text(json.dumps(result))
    return result


def _mean_sd(values: list[float]) -> list[float]:
    mean = sum(values) / len(values)
    return [mean, (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5]


# -- report ----------------------------------------------------------------
def _ratio(a: float, b: float) -> str:
    return f"{a / b:8.2f}" if b else "     inf"


def report_set(name: str, ours: dict, base: dict | None) -> None:
    if base is None:  # --ours-only: zeros in the baseline's column
        base = {**{k: 0.0 for k in METRICS}, "f1": dict.fromkeys(ours["f1"], 0.0),
                "by_style": {s: {"intent": 0.0, "bundle": 0.0} for s in ours["by_style"]}}
    print(f"\n== {name}: {ours['n']} messages ==")
    print(f"{'metric':24}{'ours':>8}{'baseline':>10}{'ratio':>8}")
    for key in METRICS:
        print(f"{key:24}{ours[key]:8.3f}{base[key]:10.3f}{_ratio(ours[key], base[key])}")
    print(f"\n{'style':16}{'n':>5}{'intent ours/base':>20}{'bundle ours/base':>20}")
    for style, row in ours["by_style"].items():
        b = base["by_style"][style]
        print(f"{style:16}{row['n']:5}{row['intent']:12.3f} /{b['intent']:6.3f}"
              f"{row['bundle']:12.3f} /{b['bundle']:6.3f}")
    print("\nper-intent F1 (ours / baseline):")
    for label in sorted(ours["f1"]):
        print(f"  {label:20}{ours['f1'][label]:6.3f} / {base['f1'][label]:.3f}")
    print("worst intent confusions (ours): gold → predicted × count")
    for (gold, pred), count in ours["confusions"].most_common(8):
        print(f"  {gold} → {pred} × {count}")
    print("worst bundle confusions (ours): gold → predicted × count (- is none)")
    for (gold, pred), count in ours["bundle_errors"].most_common(8):
        print(f"  {gold} → {pred} × {count}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cv", action="store_true", help="skip cross-validation")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--ours-only", action="store_true",
                        help="skip the baseline, also in cross-validation (quick iterations; "
                             "figures beside it need a full run)")
    args = parser.parse_args(argv)
    sets = held_out_sets()
    models = trained_models(["ours"] if args.ours_only else None)
    results: dict[str, dict[str, dict]] = {}
    for name, trained in models.items():
        agent = load_agent(trained.path)
        for set_name, cases in sets.items():
            parses, _ = parse_all(agent, [c["text"] for c in cases])
            results.setdefault(set_name, {})[name] = scores(cases, parses)
    for set_name in sets:
        report_set(set_name, results[set_name]["ours"], results[set_name].get("baseline"))
    base_seconds = models["baseline"].train_seconds if "baseline" in models else 0.0
    print(f"\n{'train_seconds (full NLU)':24}{models['ours'].train_seconds:8.1f}"
          f"{base_seconds:10.1f}{_ratio(models['ours'].train_seconds, base_seconds)}")
    if not args.no_cv:
        print(f"\n== {args.folds}-fold cross-validation on the training data (mean ± sd) ==")
        for name, config in CONFIGS.items():  # each printed when done: the baseline is slow
            if name not in models:  # --ours-only
                continue
            cv = cross_validate(name, config, args.folds, models[name].path.parent)
            print(f"{name:10}" + "".join(f"  {key} {cv[key][0]:.3f} ±{cv[key][1]:.3f}"
                                         for key in ("intent_accuracy", "bundle_accuracy",
                                                     "train_seconds")), flush=True)
    summary = {s: {m: {k: round(v[k], 4) for k in METRICS} for m, v in r.items()}
               for s, r in results.items()}
    (RESULTS / ("eval-ours.json" if args.ours_only else "eval-latest.json")).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
