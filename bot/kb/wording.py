"""Wording as data: the templates in data/guide.yml, read once per process."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from bot.config import DATA_DIR


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    return yaml.safe_load((DATA_DIR / "guide.yml").read_text(encoding="utf-8"))


def say(key: str, **fields: Any) -> str:
    """The template at `section.name` filled with `fields`."""
    section, name = key.split(".", 1)
    return str(_table()[section][name]).format(**fields)


def words(key: str) -> tuple[str, ...]:
    section, name = key.split(".", 1)
    return tuple(_table()[section][name])
