"""The question focus of a message: what its question clause asks.

A citizen tells a story and asks at the end (“我老公在东莞上班 … 想问问退休手续应该在东莞
办还是回韶关办”). The story is full of a bundle's words, so a classifier reading the
whole message leans to the overview (ask_bundle) even when the question itself is
specific. The focus is the last clause (the text after the last marker such as 然后 or
想问 when the message has no punctuation); when that clause carries the cues of exactly
one specific question (材料 → ask_materials, 多少钱 → ask_fee …), not followed by an
overview cue (…去哪领要办啥 still asks for the overview), that is what is asked.

The cues are data: lookup tables `focus:<intent>` and `focus:markers`
(data/nlu/cues.yml), so editors extend them without touching code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FOCUS_PREFIX = "focus:"
MARKERS = "markers"
CLAUSES = re.compile(r"[,，。.!！?？;；~～\s]+")


class QuestionFocus:
    def __init__(self, cues: dict[str, list[str]], markers: Iterable[str] = (), min_clause: int = 4,
                 overview: str = "ask_bundle"):
        self.overview = overview
        self.cues = {intent: sorted(set(words), key=len, reverse=True)
                     for intent, words in cues.items() if words}
        self.markers = sorted(set(markers), key=len, reverse=True)
        self.min_clause = min_clause

    @classmethod
    def from_lookup_tables(cls, tables: Iterable[dict]) -> QuestionFocus:
        cues: dict[str, list[str]] = {}
        markers: list[str] = []
        for table in tables:
            name = str(table.get("name", ""))
            elements = table.get("elements")
            if not name.startswith(FOCUS_PREFIX) or not isinstance(elements, list):
                continue
            key = name[len(FOCUS_PREFIX):]
            words = [str(e) for e in elements if str(e).strip()]
            if key == MARKERS:
                markers += words
            else:
                cues.setdefault(key, []).extend(words)
        return cls(cues, markers)

    def to_json(self) -> dict:
        return {"cues": self.cues, "markers": self.markers, "min_clause": self.min_clause}

    @classmethod
    def from_json(cls, data: dict | None) -> QuestionFocus:
        data = data or {}
        return cls(data.get("cues") or {}, data.get("markers") or (), data.get("min_clause", 4))

    def clause(self, text: str) -> str:
        """The question clause: the last clause (with the one before it when it is too
        short to ask anything), or what follows the last marker in an unpunctuated one."""
        clauses = [c for c in CLAUSES.split(text) if c]
        if not clauses:
            return ""
        tail = clauses[-1]
        if len(tail) < self.min_clause and len(clauses) > 1:
            tail = clauses[-2] + "," + tail
        cut = max(((tail.rfind(m), m) for m in self.markers if m in tail), default=(-1, ""))
        if cut[0] >= 0 and len(tail) - cut[0] - len(cut[1]) >= self.min_clause:
            tail = tail[cut[0] + len(cut[1]):]
        return tail

    def cued(self, clause: str) -> dict[str, int]:
        """The intents whose cues occur in `clause` → where their last cue ends."""
        out = {}
        for intent, words in self.cues.items():
            ends = [clause.rfind(w) + len(w) for w in words if w in clause]
            if ends:
                out[intent] = max(ends)
        return out

    def intent(self, text: str, masked: str | None = None) -> str | None:
        """The one specific question the question clause asks, or None: none when it
        asks several, or when an overview cue (要办啥, 怎么办 …) comes after it. With no
        cue in the text as typed, the text with the knowledge base's names masked
        (`masked`: a document Ⓜ, an office Ⓓ) is read too: 要Ⓜ吗 asks for materials,
        Ⓓ能办吗 for the department."""
        found = self._intent(text)
        if found is None and masked is not None and masked != text:
            found = self._intent(masked)
        return found

    def _intent(self, text: str) -> str | None:
        cued = self.cued(self.clause(text))
        overview = cued.pop(self.overview, -1)
        if len(cued) != 1:
            return None
        ((intent, end),) = cued.items()
        return intent if end > overview else None
