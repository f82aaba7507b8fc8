"""make eval: our NLU against the vanilla baseline on the held-out test set.

Prints intent accuracy, bundle-entity accuracy, per-intent F1, the worst
confusions, and each figure of ours as a ratio to the baseline's.
"""

from __future__ import annotations

import sys
from collections import Counter

from benchmarks.common import load_agent, parse_all, predicted_bundle, test_set, trained_models

FALLBACK = "nlu_fallback"
SETS = {"test_set": "tests/nlu/test_set.yml", "dev_set": "tests/nlu/dev_set.yml",
        "independent_set": "tests/nlu/independent_set.yml"}


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
    return {
        "intent_accuracy": sum(g == p for g, p in zip(gold_i, intents, strict=True)) / n,
        "bundle_accuracy": sum(g == p for g, p in zip(gold_b, bundles, strict=True)) / n,
        "bundle_recall": sum(gold_b[i] == bundles[i] for i in with_bundle) / max(1, len(with_bundle)),
        "no_bundle_precision": sum(bundles[i] is None for i in without) / max(1, len(without)),
        "fallback_rate": intents.count(FALLBACK) / n,
        "f1": f1,
        "confusions": Counter((g, p) for g, p in zip(gold_i, intents, strict=True) if g != p),
        "bundle_errors": [(cases[i]["text"], gold_b[i], bundles[i])
                          for i in range(n) if gold_b[i] != bundles[i]],
    }


def main() -> int:
    cases = test_set()
    models = trained_models()
    results = {}
    for name, trained in models.items():
        parses, _ = parse_all(load_agent(trained.path), [c["text"] for c in cases])
        results[name] = scores(cases, parses)
    ours, base = results["ours"], results["baseline"]
    print(f"\nNLU evaluation on {len(cases)} held-out messages (tests/nlu/test_set.yml)\n")
    print(f"{'metric':24}{'ours':>8}{'baseline':>10}{'ratio':>8}")
    for key in ("intent_accuracy", "bundle_accuracy", "bundle_recall", "no_bundle_precision",
                "fallback_rate"):
        ratio = ours[key] / base[key] if base[key] else float("inf")
        print(f"{key:24}{ours[key]:8.3f}{base[key]:10.3f}{ratio:8.2f}")
    print(f"{'train_seconds':24}{models['ours'].train_seconds:8.1f}"
          f"{models['baseline'].train_seconds:10.1f}"
          f"{models['ours'].train_seconds / models['baseline'].train_seconds:8.2f}")
    print("\nper-intent F1 (ours / baseline):")
    for label in sorted(ours["f1"]):
        print(f"  {label:20}{ours['f1'][label]:6.3f} / {base['f1'][label]:.3f}")
    print("\nworst intent confusions (ours): gold → predicted × count")
    for (gold, pred), count in ours["confusions"].most_common(10):
        print(f"  {gold} → {pred} × {count}")
    print("\nbundle errors (ours), first 15: text | gold | predicted")
    for text, gold, pred in ours["bundle_errors"][:15]:
        print(f"  {text} | {gold} | {pred}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
