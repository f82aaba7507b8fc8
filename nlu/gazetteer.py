"""Find known bundle and item names (from the knowledge base) in normalised text."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

BUNDLE_PREFIX = "bundle:"
ITEM_PREFIX = "item:"
ELSEWHERE_PREFIX = "elsewhere:"  # services handled elsewhere (data/elsewhere.yml)
DEPARTMENT_LOOKUP = "department"  # names of departments and offices
MATERIAL_LOOKUP = "material"  # short names of documents (材料)
NAME_KINDS = ("bundle", "item", "elsewhere")


@dataclass(frozen=True)
class Match:
    kind: str  # "bundle", "item" or "elsewhere"
    target: str  # bundle id, "bundle.item", or a service id
    start: int
    end: int
    weight: int = 0  # how specific: the characters that matched (a pair's two parts)

    @property
    def size(self) -> int:
        return self.weight or self.end - self.start

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
    def from_lookup_tables(cls, tables: Iterable[dict], kinds: Iterable[str] = NAME_KINDS) -> Gazetteer:
        kinds = set(kinds)
        phrases = []
        for table in tables:
            name = str(table.get("name", ""))
            elements = table.get("elements")
            if not isinstance(elements, list):
                continue
            for prefix, kind in ((BUNDLE_PREFIX, "bundle"), (ITEM_PREFIX, "item"),
                                 (ELSEWHERE_PREFIX, "elsewhere")):
                if name.startswith(prefix):
                    phrases += [(str(e), kind, name[len(prefix):]) for e in elements]
            for lookup, kind in ((DEPARTMENT_LOOKUP, "department"), (MATERIAL_LOOKUP, "material")):
                if name == lookup:
                    phrases += [(str(e), kind, str(e)) for e in elements]
        return cls([p for p in phrases if p[1] in kinds])

    def to_json(self) -> dict[str, list[list[str]]]:
        return {p: [list(t) for t in targets] for p, targets in self.entries.items()}

    @classmethod
    def from_json(cls, data: dict[str, list[list[str]]]) -> Gazetteer:
        return cls((p, kind, target) for p, targets in data.items() for kind, target in targets)

    def mask(self, text: str, marks: dict[str, str]) -> str:
        """`text` with every name found replaced by the mark of its kind (Ⓑ …)."""
        out, last = [], 0
        for m in sorted({(m.start, m.end, m.kind) for m in self.find(text)}):
            if m[0] < last or m[2] not in marks:
                continue
            out += [text[last:m[0]], marks[m[2]]]
            last = m[1]
        out.append(text[last:])
        return "".join(out)

    def owners_of_parts(self) -> dict[str, set[str]]:
        """Every part (2+ characters) of a bundle or item phrase → the bundles it names."""
        out: dict[str, set[str]] = {}
        for phrase, targets in self.entries.items():
            bundles = {t.split(".", 1)[0] for kind, t in targets if kind in ("bundle", "item")}
            if not bundles:
                continue
            for i in range(len(phrase)):
                for j in range(i + 2, len(phrase) + 1):
                    out.setdefault(phrase[i:j], set()).update(bundles)
        return out

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
