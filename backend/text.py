"""The staff layer's Chinese wording, kept as data in backend/console/text.yml, plus
one file per console that needs more (backend/console/text.<name>.yml, e.g.
text.editor.yml): their sections are merged into text.yml's, so a console's
wording can grow without every console editing the same file."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

TEXT_FILE = Path(__file__).resolve().parent / "console" / "text.yml"


@cache
def texts() -> dict:
    merged = yaml.safe_load(TEXT_FILE.read_text(encoding="utf-8"))
    for extra in sorted(TEXT_FILE.parent.glob("text.*.yml")):
        for section, entries in (yaml.safe_load(extra.read_text(encoding="utf-8")) or {}).items():
            clash = set(merged.get(section, {})) & set(entries)
            if clash:
                raise ValueError(f"{extra.name}: {section}.{sorted(clash)[0]} is already in {TEXT_FILE.name}")
            merged.setdefault(section, {}).update(entries)
    return merged


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
