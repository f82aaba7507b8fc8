"""Find known bundle and item names (from the knowledge base) in normalised text."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

BUNDLE_PREFIX = "bundle:"
ITEM_PREFIX = "item:"


@dataclass(frozen=True)
class Match:
    kind: str  # "bundle" or "item"
    target: str  # bundle id, or "bundle.item"
    start: int
    end: int

    @property
    def bundle_id(self) -> str:
        return self.target.split(".", 1)[0]

    @property
    def item_key(self) -> str | None:
        return self.target.split(".", 1)[1] if self.kind == "item" else None


class Gazetteer:
    """Longest-first, non-overlapping phrase matching over a few hundred phrases."""

    def __init__(self, phrases: Iterable[tuple[str, str, str]], min_length: int = 2):
        self.entries: dict[str, list[tuple[str, str]]] = {}
        for phrase, kind, target in phrases:
            if len(phrase) >= min_length:
                self.entries.setdefault(phrase, [])
                if (kind, target) not in self.entries[phrase]:
                    self.entries[phrase].append((kind, target))
        self._ordered = sorted(self.entries, key=len, reverse=True)

    @classmethod
    def from_lookup_tables(cls, tables: Iterable[dict]) -> Gazetteer:
        phrases = []
        for table in tables:
            name = str(table.get("name", ""))
            elements = table.get("elements")
            if not isinstance(elements, list):
                continue
            for prefix, kind in ((BUNDLE_PREFIX, "bundle"), (ITEM_PREFIX, "item")):
                if name.startswith(prefix):
                    phrases += [(str(e), kind, name[len(prefix):]) for e in elements]
        return cls(phrases)

    def to_json(self) -> dict[str, list[list[str]]]:
        return {p: [list(t) for t in targets] for p, targets in self.entries.items()}

    @classmethod
    def from_json(cls, data: dict[str, list[list[str]]]) -> Gazetteer:
        return cls((p, kind, target) for p, targets in data.items() for kind, target in targets)

    def find(self, text: str) -> list[Match]:
        taken = [False] * len(text)
        found: list[Match] = []
        for phrase in self._ordered:
            start = text.find(phrase)
            while start != -1:
                end = start + len(phrase)
                if not any(taken[start:end]):
                    for i in range(start, end):
                        taken[i] = True
                    found += [Match(kind, target, start, end) for kind, target in self.entries[phrase]]
                start = text.find(phrase, start + 1)
        found.sort(key=lambda m: (m.start, m.kind))
        return found
