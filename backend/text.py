"""The staff layer's Chinese wording, kept as data in backend/console/text.yml, plus
one file per console's own page texts (backend/console/agent.yml …), merged in by
section so each console's wording can change without touching the shared file."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

TEXT_FILE = Path(__file__).resolve().parent / "console" / "text.yml"
PAGE_FILES = ("agent.yml",)  # beside text.yml; sections of their own


@cache
def texts() -> dict:
    data = yaml.safe_load(TEXT_FILE.read_text(encoding="utf-8"))
    for name in PAGE_FILES:
        extra = yaml.safe_load((TEXT_FILE.parent / name).read_text(encoding="utf-8")) or {}
        clash = set(extra) & set(data)
        if clash:
            raise ValueError(f"{name}: sections {sorted(clash)} are already in text.yml")
        data.update(extra)
    return data


def message(code: str, **values) -> str:
    """The API message for an error code ("forbidden", "throttled" …)."""
    template = texts()["api"].get(code) or texts()["api"]["bad_request"]
    return template.format_map(_Values({"detail": code, **values}))


class _Values(dict):
    def __missing__(self, key: str) -> str:
        return ""


@cache
def page_texts() -> dict:
    """What the console scripts need (all but the API messages, which they get in answers)."""
    return {k: v for k, v in texts().items() if k != "api"}
