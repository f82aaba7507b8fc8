"""python -m bot.content.worker: the training worker (one training at a time, queued).

Started by `make run` beside the servers; it only reads the queue in the database,
so it can run on another machine than the backend and the Rasa servers (it needs
the same DATABASE_URL and models/ directory)."""

from __future__ import annotations

import argparse
import logging
import signal


def main(argv: list[str] | None = None) -> int:
    from bot.content.training import Trainings, work

    parser = argparse.ArgumentParser(description="train the content editors' models")
    parser.add_argument("--once", action="store_true", help="run the queued trainings, then exit")
    parser.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[trainer] %(message)s")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    work(Trainings(), stop=lambda: bool(stopping), poll=args.poll, once=args.once)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
