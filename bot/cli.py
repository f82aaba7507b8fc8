"""Command line: python -m bot <command>. Used by the Makefile and by people."""

from __future__ import annotations

import argparse
import sys

from bot.kb.loader import KnowledgeBaseError


def _init(_args) -> None:
    from bot.db import session_scope
    from bot.kb.seed import seed
    from bot.migrate import upgrade

    upgrade()
    with session_scope() as session:
        changed = seed(session)
    print("knowledge base seeded" if changed else "knowledge base up to date")


def _check(_args) -> None:
    from bot.kb.loader import load_knowledge_base

    kb = load_knowledge_base()
    items = sum(len(b.items) for b in kb.bundles)
    print(f"ok: {len(kb.bundles)} bundles, {items} items, {len(kb.materials)} materials")


def _export(_args) -> None:
    from bot.nlu_export import export

    for path in export():
        print(path)


def _model(_args) -> None:
    from bot.model import ensure_model

    print(ensure_model())


def _fingerprint(_args) -> None:
    from bot.model import fingerprint

    print(fingerprint())


def _data_paths(_args) -> None:
    from bot.model import training_data_paths

    print(" ".join(str(p) for p in training_data_paths() if p.exists()))


COMMANDS = {
    "init": (_init, "migrate the database and seed the knowledge base (idempotent)"),
    "check": (_check, "validate data/ without touching the database"),
    "nlu-export": (_export, "generate build/nlu and build/jieba from the knowledge base"),
    "model": (_model, "print the model for the current content, training it if needed"),
    "fingerprint": (_fingerprint, "print the content fingerprint of the model"),
    "data-paths": (_data_paths, "print the Rasa training data paths"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="一件事一次办 assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_fn, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text)
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command][0](args)
    except KnowledgeBaseError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0
