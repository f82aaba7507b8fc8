"""Score a trained model on the frozen held-out set (tests/nlu/test_set.yml).

Editors cannot edit this set (it is not part of any content version), so a model
trained from an edit is measured on the same messages as the live one. Only
aggregate figures, per-intent F1 and the messages that got worse are reported.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import yaml

from bot.config import ROOT

EVAL_SET = Path(os.environ.get("YJS_EVAL_SET") or ROOT / "tests" / "nlu" / "test_set.yml")


def tolerance() -> float:
    """How much worse than live (accuracy points, 0–1) a model may be and still be published."""
    return float(os.environ.get("YJS_EVAL_TOLERANCE") or 0.01)


def cases(path: Path | None = None) -> list[dict]:
    return [c for c in yaml.safe_load((path or EVAL_SET).read_text(encoding="utf-8")) if c.get("text")]


def _bundle(parse: dict) -> str | None:
    return next((e.get("value") for e in parse.get("entities", []) if e.get("entity") == "bundle"), None)


def evaluate(model_path: Path, path: Path | None = None, progress=None) -> dict:
    """Load the model (the test-load before anything may publish it) and score it."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model_path))
    data = cases(path)
    results = []

    async def run():
        for n, case in enumerate(data):
            results.append(await agent.parse_message(case["text"]))
            if progress and n % 20 == 0:
                progress(n / len(data))

    asyncio.run(run())
    return score(data, results)


def score(data: list[dict], parses: list[dict]) -> dict:
    intents = [p["intent"]["name"] for p in parses]
    bundles = [_bundle(p) for p in parses]
    n = len(data)
    f1 = {}
    for label in sorted({c["intent"] for c in data}):
        tp = sum(c["intent"] == p == label for c, p in zip(data, intents, strict=True))
        fp = sum(p == label != c["intent"] for c, p in zip(data, intents, strict=True))
        fn = sum(c["intent"] == label != p for c, p in zip(data, intents, strict=True))
        prec, rec = (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)
        f1[label] = round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0
    right = [c["intent"] == i and c.get("bundle") == b for c, i, b in zip(data, intents, bundles, strict=True)]
    return {
        "n": n,
        "intent_accuracy": round(sum(c["intent"] == i for c, i in zip(data, intents, strict=True)) / n, 4),
        "bundle_accuracy": round(sum(c.get("bundle") == b for c, b in zip(data, bundles, strict=True)) / n, 4),
        "per_intent_f1": f1,
        # per message: [intent, bundle] understood, to find what got worse against another model
        "understood": [[i, b] for i, b in zip(intents, bundles, strict=True)],
        "right": right,
    }


def compare(new: dict, live: dict | None, tol: float | None = None, data: list[dict] | None = None) -> dict:
    """The evaluation the API shows: new figures, live figures, passed, why, what got worse."""
    tol = tolerance() if tol is None else tol
    out = {k: new[k] for k in ("n", "intent_accuracy", "bundle_accuracy", "per_intent_f1")}
    if live is None:
        return {**out, "live": None, "passed": True, "why": [], "worse": [], "tolerance": tol}
    data = cases() if data is None else data
    why = []
    for key, label in (("intent_accuracy", "意图准确率"), ("bundle_accuracy", "事项识别准确率")):
        if new[key] < live[key] - tol:
            why.append(f"{label} {new[key]:.1%}，比线上模型的 {live[key]:.1%} 低了超过 {tol:.0%}")
    worse = []
    if len(new.get("right", [])) == len(live.get("right", [])) == len(data):
        for case, was, now_, got in zip(data, live["right"], new["right"], new["understood"], strict=True):
            if was and not now_:
                worse.append({"text": case["text"], "expected": {"intent": case["intent"],
                                                                  "bundle": case.get("bundle")},
                              "understood": {"intent": got[0], "bundle": got[1]}})
    return {**out, "live": {k: live[k] for k in ("n", "intent_accuracy", "bundle_accuracy", "per_intent_f1")},
            "passed": not why, "why": why, "worse": worse, "tolerance": tol}
