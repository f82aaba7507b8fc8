"""Typo correction against a vocabulary, by pronunciation and by character shape.

Citizens type with pinyin input methods, so a slip gives a character that sounds
the same (社保 → 社宝, 注销 → 注消), or one that looks the same (口/囗, 己/已).
No typo table can list them all; instead every word of the vocabulary (the
knowledge base's names and the words our questions use) is indexed by its
pronunciation with one character left open, and a span of the message that is
not itself a known word is replaced by the vocabulary word it can only be a slip
of. Pronunciation is compared without tones and with the confusions of southern
speakers: zh/z ch/c sh/s, n/l, f/h, in/ing en/eng an/ang.

A span is corrected only when
- it differs from the vocabulary word in exactly one character, which sounds or
  looks like the intended one;
- it is not a vocabulary word itself, and (noisy channel) the text around it
  with the vocabulary word, times the small chance of a slip, reads more likely
  than the text as typed, under a unigram word model of general Chinese (Jieba's
  counts; the vocabulary's words counted as common): 事业单位 stays, it is not a
  slip of 失业; 宝宝出声了 is a slip of 出生; 不办了 stays, not 补办;
- it starts and ends on a word boundary of the text as Jieba segments it (so
  “你是机器人” never yields 司机, nor “有人在吗” 人才);
- exactly one vocabulary word fits;
- the slipped character is part of a longer word of the vocabulary word (as
  general Chinese segments it), not a word of its own joined to one: 买厂房 is
  买 + 厂房, so 卖厂房 is a different deal, not a slip; 去公积金 is not 取公积金;
- the span as typed is not a form our own messages use at least as often as the
  word it resembles (`kept`): 件事 of 一件事 is not a slip of 监事, nor 办件 of 办间.
Corrections keep the length, so character offsets are unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import lru_cache

from pypinyin import Style, lazy_pinyin, pinyin

MIN_LENGTH, MAX_LENGTH = 2, 8
SLIP = 0.01  # how likely a typed word is a slip (measured: README "Typos")
CONTEXT = 2  # characters either side that the noisy channel looks at


def fuzzy_syllable(syllable: str) -> str:
    s = syllable.lower().replace("ü", "v")
    if s[:2] in ("zh", "ch", "sh"):
        s = s[0] + s[1:][1:]
    elif s[:1] == "n" and s != "ng":
        s = "l" + s[1:]
    elif s[:1] == "f":  # Cantonese speakers: 发/花, 分/婚, 飞/灰, 福/湖
        rest = s[1:]
        s = "h" + rest if rest.startswith("u") else ("hui" if rest == "ei" else "hu" + rest)
    for long, short in (("ing", "in"), ("eng", "en"), ("ang", "an")):
        if s.endswith(long):
            s = s[: -len(long)] + short
            break
    return s


def is_hanzi(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@lru_cache(maxsize=20000)
def char_sounds(ch: str) -> frozenset[str]:
    """Every fuzzy syllable a character can be read as."""
    if not is_hanzi(ch):
        return frozenset()
    readings = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
    return frozenset(fuzzy_syllable(r) for r in (readings[0] if readings else []) if r)


class ShapeGroups:
    """Characters that look alike (口囗, 己已巳): each maps to its group's first."""

    def __init__(self, groups: Iterable[str] = ()):
        self.rep: dict[str, str] = {}
        for group in groups:
            chars = [c for c in str(group) if not c.isspace()]
            for c in chars:
                self.rep.setdefault(c, chars[0])

    def __call__(self, ch: str) -> str | None:
        return self.rep.get(ch)


class FuzzyCorrector:
    def __init__(self, vocabulary: Iterable[str], shapes: ShapeGroups | None = None,
                 frequency: Callable[[str], int] | None = None, slip: float = SLIP,
                 floor: int = 3000, total: int = 60_000_000,
                 boundaries: Callable[[str], set[int]] | None = None,
                 kept: Iterable[str] = (), segment: Callable[[str], list[str]] | None = None):
        self.kept = frozenset(kept)
        self.segment = segment
        self.vocabulary = {w for w in vocabulary
                           if MIN_LENGTH <= len(w) <= MAX_LENGTH and all(is_hanzi(c) for c in w)}
        self.shapes = shapes or ShapeGroups()
        self.frequency = frequency or (lambda _w: 0)
        self.floor = floor
        self._log_slip = math.log(slip)
        self._log_total = math.log(total)
        self.boundaries = boundaries
        # (prefix, key of the open character, suffix) -> vocabulary words
        self.index: dict[tuple[str, str, str], set[str]] = {}
        for word in self.vocabulary:
            sounds = lazy_pinyin(word, style=Style.NORMAL, errors="ignore")
            for j, ch in enumerate(word):
                keys = {"s:" + fuzzy_syllable(sounds[j])} if len(sounds) == len(word) else set()
                keys |= {"s:" + s for s in char_sounds(ch)}
                rep = self.shapes(ch)
                if rep:
                    keys.add("g:" + rep)
                for key in keys:
                    self.index.setdefault((word[:j], key, word[j + 1:]), set()).add(word)
        self.lengths = sorted({len(w) for w in self.vocabulary}, reverse=True)

    def candidates(self, span: str) -> set[str]:
        found: set[str] = set()
        for j, ch in enumerate(span):
            keys = {"s:" + s for s in char_sounds(ch)}
            rep = self.shapes(ch)
            if rep:
                keys.add("g:" + rep)
            for key in keys:
                found |= self.index.get((span[:j], key, span[j + 1:]), set())
        found.discard(span)
        return found

    def _log_p(self, text: str) -> float:
        """Log-probability of the best segmentation of `text` into words (unigram
        model over general word counts, the vocabulary's words counted as common)."""
        best = [0.0] + [-math.inf] * len(text)
        for end in range(1, len(text) + 1):
            for start in range(max(0, end - MAX_LENGTH), end):
                word = text[start:end]
                freq = self.frequency(word)
                if word in self.vocabulary:
                    freq = max(freq, self.floor)
                if freq <= 0 and end - start > 1:
                    continue
                score = best[start] + math.log(max(freq, 1)) - self._log_total
                if score > best[end]:
                    best[end] = score
        return best[-1]

    def _joins_a_word(self, span: str, word: str) -> bool:
        """Is the changed character inside a word of 2+ characters of `word`?"""
        if self.segment is None:
            return True
        j = next(k for k, (a, b) in enumerate(zip(span, word, strict=True)) if a != b)
        pos = 0
        for token in self.segment(word):
            if pos <= j < pos + len(token):
                return len(token) > 1
            pos += len(token)
        return True

    def _plausible_slip(self, text: str, i: int, span: str, word: str) -> bool:
        """Noisy channel: is P(word) · P(slip) above P(span as typed), in context?"""
        if not self._joins_a_word(span, word):
            return False
        lo, hi = max(0, i - CONTEXT), min(len(text), i + len(span) + CONTEXT)
        typed = text[lo:hi]
        meant = text[lo:i] + word + text[i + len(span):hi]
        return self._log_p(meant) + self._log_slip > self._log_p(typed)

    def correct(self, text: str, protected: Callable[[int], bool] = lambda _i: False) -> str:
        """`text` with slips of vocabulary words replaced (same length)."""
        if not self.vocabulary:
            return text
        out = list(text)
        cuts = self.boundaries(text) if self.boundaries else None
        i = 0
        while i < len(text):
            step = 1
            for n in self.lengths:
                span = text[i:i + n]
                if len(span) < n or not all(is_hanzi(c) for c in span):
                    continue
                if cuts is not None and span not in self.vocabulary and (
                        i not in cuts or i + n not in cuts):
                    continue
                if any(protected(k) for k in range(i, i + n)):
                    continue
                if span in self.vocabulary or span in self.kept:
                    step = n
                    break
                words = self.candidates(span)
                if len(words) == 1:
                    word = next(iter(words))
                    if self._plausible_slip(text, i, span, word):
                        out[i:i + n] = word
                        step = n
                        break
            i += step
        return "".join(out)
