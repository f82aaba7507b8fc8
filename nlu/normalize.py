"""Chinese text normalisation that keeps track of character offsets.

Traditional characters, full-width forms, Cantonese phrasing and frequent typos
are mapped to one simplified Mandarin form, so the model learns one way of
writing each thing. Offsets are tracked so that entity annotations made on the
original text still point at the right characters afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from hanziconv import HanziConv

# A vault token (⟪身份证号:k3bb2m4p7a⟫) is a reference, not words: it is copied
# verbatim, or the action server could not resolve it (the table maps "bb" → 宝宝).
_VERBATIM = re.compile(r"⟪[^⟪⟫\s]{1,40}⟫")


def _char_map(text: str) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII
            ch = chr(code - 0xFEE0)
        elif code == 0x3000:
            ch = " "
        ch = ch.lower() if ch.isascii() else ch
        simple = HanziConv.toSimplified(ch) if ord(ch) > 0x2E7F else ch
        out.append(simple if len(simple) == 1 else ch)
    return "".join(out)


@dataclass(frozen=True)
class Normalized:
    text: str
    starts: tuple[int, ...]  # starts[i]: where original char i begins in `text`
    ends: tuple[int, ...]  # ends[i]: where original char i-1 ends in `text` (ends[0] == 0)

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.starts[start], self.ends[end]


class Normalizer:
    """Applies the replacement table; pure and cheap, safe to share."""

    def __init__(self, replacements: Mapping[str, str]):
        table = {_char_map(k): v for k, v in replacements.items() if k}
        self._by_first: dict[str, list[tuple[str, str]]] = {}
        for key in sorted(table, key=len, reverse=True):
            self._by_first.setdefault(key[0], []).append((key, table[key]))
        self.replacements = dict(table)

    @classmethod
    def from_file(cls, path: str | Path) -> Normalizer:
        return cls(load_table(path))

    def _match(self, text: str, i: int, original: str) -> tuple[str, str]:
        """The longest table entry starting at i, else the character itself;
        a vault token is copied from the original text as it is."""
        if original[i] == "⟪":
            token = _VERBATIM.match(original, i)
            if token:
                return token.group(0), token.group(0)
        for key, repl in self._by_first.get(text[i], ()):
            if text.startswith(key, i):
                return key, repl
        return text[i], text[i]

    def normalize(self, text: str) -> Normalized:
        mapped = _char_map(text)
        out: list[str] = []
        starts = [0] * (len(text) + 1)
        ends = [0] * (len(text) + 1)
        pos = 0
        i = 0
        while i < len(mapped):
            key, repl = self._match(mapped, i, text)
            begin = pos
            out.append(repl)
            pos += len(repl)
            for j in range(i, i + len(key)):
                starts[j] = begin
                ends[j + 1] = pos
            i += len(key)
        starts[len(text)] = pos
        return Normalized("".join(out), tuple(starts), tuple(ends))

    def __call__(self, text: str) -> str:
        return self.normalize(text).text


def load_table(path: str | Path) -> dict[str, str]:
    """Read data/normalization.yml: every top-level section is a phrase mapping."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    table: dict[str, str] = {}
    for section, mapping in raw.items():
        if not isinstance(mapping, dict):
            raise ValueError(f"{path}: section '{section}' must map phrases to replacements")
        for k, v in mapping.items():
            table[str(k)] = "" if v is None else str(v)
    return table
