"""make bench: training time and parse latency of our NLU against the vanilla
baseline (Rasa's default pipeline for zh), both measured in this run."""

from __future__ import annotations

import sys

from benchmarks.common import load_agent, parse_all, percentile, test_set, trained_models

REPEATS = 3


def main() -> int:
    texts = [c["text"] for c in test_set()]
    models = trained_models()
    rows = {}
    for name, trained in models.items():
        agent = load_agent(trained.path)
        parse_all(agent, texts[:20])  # warm-up
        seconds: list[float] = []
        for _ in range(REPEATS):
            seconds += parse_all(agent, texts)[1]
        rows[name] = {
            "train_s": trained.train_seconds,
            "p50_ms": percentile(seconds, 50) * 1000,
            "p99_ms": percentile(seconds, 99) * 1000,
            "msgs_per_s": len(seconds) / sum(seconds),
        }
    ours, base = rows["ours"], rows["baseline"]
    print(f"\n{len(texts)} messages × {REPEATS}, single process, one message at a time\n")
    print(f"{'metric':14}{'ours':>10}{'baseline':>10}{'ratio':>8}")
    for key in ("train_s", "p50_ms", "p99_ms", "msgs_per_s"):
        print(f"{key:14}{ours[key]:10.2f}{base[key]:10.2f}{ours[key] / base[key]:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
