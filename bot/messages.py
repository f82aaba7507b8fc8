"""Texts citizens read, kept as data: data/messages/<topic>.yml."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from bot.config import DATA_DIR


@cache
def topic(name: str) -> dict[str, Any]:
    path = DATA_DIR / "messages" / f"{name}.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def text(name: str, key: str, **values: object) -> str:
    """The text `key` of topic `name`, with {placeholders} filled in."""
    return str(topic(name)[key]).strip().format(**values)
