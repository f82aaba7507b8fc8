"""Chinese text normalisation that keeps track of character offsets.

Traditional characters (OpenCC, Hong Kong variants included), full-width forms,
Cantonese phrasing and typos are mapped to one simplified Mandarin form, so the
model learns one way of writing each thing. Offsets are tracked so that entity
annotations made on the original text still point at the right characters.

Steps, in order:
1. the text is capped at `max_length` characters (a message is a question, not a
   document; longer input costs time and proves nothing);
2. vault tokens such as ⟪身份证号:k3j9x2m4p7⟫ are copied verbatim, never rewritten;
3. characters: full-width → half-width, ASCII lower-case, traditional → simplified;
4. phrases from data/normalization.yml, longest match first;
5. slips of the vocabulary's words by sound or shape (nlu.fuzzy), when a
   vocabulary is given (the trained component gives the knowledge base's).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from nlu.fuzzy import MAX_LENGTH as MAX_WORD
from nlu.fuzzy import MIN_LENGTH as MIN_WORD
from nlu.fuzzy import FuzzyCorrector, ShapeGroups, is_hanzi

VAULT_TOKEN = re.compile(r"⟪[^⟪⟫]{1,64}⟫")
MAX_LENGTH = 1000
SHAPES_SECTION = "shape_groups"  # a list of look-alike characters, not phrases


@lru_cache(maxsize=1)
def _opencc():
    import opencc

    return opencc.OpenCC("hk2s")


def _width(ch: str) -> str:
    code = ord(ch)
    if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII
        ch = chr(code - 0xFEE0)
    elif code == 0x3000:
        ch = " "
    return ch.lower() if ch.isascii() else ch


def _char_map(text: str) -> str:
    """Same length as `text`: half-width, lower-case ASCII, simplified characters."""
    text = "".join(_width(ch) for ch in text)
    converted = _opencc().convert(text)
    if len(converted) == len(text):
        return converted
    # A phrase conversion changed the length: convert character by character.
    out = []
    for ch in text:
        simple = _opencc().convert(ch)
        out.append(simple if len(simple) == 1 else ch)
    return "".join(out)


def _ascii_word_at(text: str, i: int, n: int) -> bool:
    """An English key matches whole words only (tax, not the tax of taxi)."""
    def letter(k: int) -> bool:
        return 0 <= k < len(text) and text[k].isascii() and text[k].isalpha()
    return not letter(i - 1) and not letter(i + n)


@dataclass(frozen=True)
class Normalized:
    text: str
    starts: tuple[int, ...]  # starts[i]: where original char i begins in `text`
    ends: tuple[int, ...]  # ends[i]: where original char i-1 ends in `text` (ends[0] == 0)

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.starts[start], self.ends[end]


class TableError(ValueError):
    pass


class Normalizer:
    """Applies the replacement table and the typo corrector; pure, safe to share."""

    def __init__(self, replacements: Mapping[str, str], vocabulary: Iterable[str] = (),
                 shape_groups: Iterable[str] = (), max_length: int = MAX_LENGTH,
                 frequency=None, kept: Iterable[str] = ()):
        table: dict[str, str] = {}
        for k, v in replacements.items():
            key = _char_map(k) if k else ""
            if not key:
                continue
            if key in _char_map(v):
                # e.g. 冇 → 没有 once became 没 → 没有, and every 没有 became 没有有
                raise TableError(f"replacement '{k}' → '{v}' contains its own key '{key}': "
                                 "it would rewrite its own output")
            table[key] = v
        self._by_first: dict[str, list[tuple[str, str]]] = {}
        for key in sorted(table, key=len, reverse=True):
            self._by_first.setdefault(key[0], []).append((key, table[key]))
        self.replacements = dict(table)
        self.max_length = max_length
        self.vocabulary = tuple(dict.fromkeys(vocabulary))
        self.shape_groups = tuple(shape_groups)
        self.kept = tuple(dict.fromkeys(kept))
        self.corrector = (FuzzyCorrector(self.vocabulary, ShapeGroups(self.shape_groups),
                                         frequency or general_frequency, boundaries=word_boundaries,
                                         kept=self.kept, segment=general_words)
                          if self.vocabulary else None)

    @classmethod
    def from_file(cls, path: str | Path, vocabulary: Iterable[str] = ()) -> Normalizer:
        return cls(load_table(path), vocabulary, load_shape_groups(path))

    def _match(self, text: str, i: int) -> tuple[str, str]:
        """The longest table entry starting at i, else the character itself."""
        for key, repl in self._by_first.get(text[i], ()):
            if text.startswith(key, i) and (not key[0].isascii() or _ascii_word_at(text, i, len(key))):
                return key, repl
        return text[i], text[i]

    def normalize(self, text: str) -> Normalized:
        n = len(text)
        kept = text[: self.max_length]
        protected = [False] * len(kept)
        for m in VAULT_TOKEN.finditer(kept):
            for j in range(m.start(), m.end()):
                protected[j] = True
        mapped = "".join(
            kept[j] if protected[j] else c for j, c in enumerate(_char_map(kept)))
        out: list[str] = []
        out_protected: list[bool] = []
        starts = [0] * (n + 1)
        ends = [0] * (n + 1)
        pos = 0
        i = 0
        while i < len(mapped):
            if protected[i]:
                key, repl = mapped[i], mapped[i]
            else:
                key, repl = self._match(mapped, i)
                if any(protected[i:i + len(key)]):
                    key, repl = mapped[i], mapped[i]
            begin = pos
            out.append(repl)
            out_protected += [protected[i]] * len(repl)
            pos += len(repl)
            for j in range(i, i + len(key)):
                starts[j] = begin
                ends[j + 1] = pos
            i += len(key)
        for j in range(len(mapped), n):  # cut off by max_length
            starts[j] = pos
            ends[j + 1] = pos
        starts[n] = pos
        result = "".join(out)
        if not result.strip() and kept.strip():
            # only fillers ("嗯"): keep them rather than send nothing on
            result = mapped
            starts = list(range(len(mapped))) + [len(mapped)] * (n + 1 - len(mapped))
            ends = [0] + [min(j, len(mapped)) for j in range(1, n + 1)]
            out_protected = list(protected)
        if self.corrector is not None:
            result = self.corrector.correct(result, lambda k: out_protected[k])
        return Normalized(result, tuple(starts), tuple(ends))

    def __call__(self, text: str) -> str:
        return self.normalize(text).text


@lru_cache(maxsize=1)
def _jieba_frequencies():
    tokenizer = _general_tokenizer()
    tokenizer.check_initialized()
    return tokenizer.FREQ


def word_boundaries(text: str) -> set[int]:
    """Where Jieba's words of `text` start and end (general Chinese: Jieba's own
    dictionary, whatever user dictionary a Rasa tokenizer loaded into the global one,
    so the corrector answers the same in training, serving and tests)."""
    _jieba_frequencies()
    cuts, pos = {0}, 0
    for word in _general_tokenizer().cut(text, HMM=False):  # unknown characters (slips) stay single
        pos += len(word)
        cuts.add(pos)
    return cuts


def general_words(text: str) -> list[str]:
    """`text` as general Chinese segments it (Jieba's own dictionary, not ours)."""
    _jieba_frequencies()
    return _general_tokenizer().lcut(text, HMM=False)


@lru_cache(maxsize=1)
def _general_tokenizer():
    import jieba

    jieba.setLogLevel(60)
    return jieba.Tokenizer()  # a fresh one: the default may hold our user dictionary


def general_cut(text: str) -> list[str]:
    """Jieba's default cut (HMM on) with its own dictionary only."""
    _jieba_frequencies()
    return _general_tokenizer().lcut(text)


def general_frequency(word: str) -> int:
    """How common `word` is in general Chinese (Jieba's dictionary counts)."""
    return int(_jieba_frequencies().get(word) or 0)


def is_vocabulary_word(word: str) -> bool:
    return MIN_WORD <= len(word) <= MAX_WORD and all(is_hanzi(c) for c in word)


def _raw(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def load_table(path: str | Path) -> dict[str, str]:
    """Read data/normalization.yml: every top-level section but `shape_groups` is a
    phrase mapping."""
    table: dict[str, str] = {}
    for section, mapping in _raw(path).items():
        if section == SHAPES_SECTION:
            continue
        if not isinstance(mapping, dict):
            raise ValueError(f"{path}: section '{section}' must map phrases to replacements")
        for k, v in mapping.items():
            table[str(k)] = "" if v is None else str(v)
    return table


def load_shape_groups(path: str | Path) -> list[str]:
    groups = _raw(path).get(SHAPES_SECTION) or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise ValueError(f"{path}: '{SHAPES_SECTION}' must be a list of look-alike characters")
    return groups
