"""The content editors' inbox: recent citizen messages with what the model made of
them (intent, bundle, confidence), so editors learn from real conversations.

Why it reads the tracker store's table itself: the backend must not load Rasa to
show a list, and the events table (Rasa's SQLTrackerStore, `events`) is plain SQL
with each event sealed by bot.tracker_store (Fernet, "fernet:" prefix) — we open
the seal with the same data key. Only the newest `scan_events` rows are read per
request, so the work is bounded whatever the store holds.

What editors see is masked: vault tokens (⟪身份证号:…⟫) lose their reference and
any number typed before the vault existed is masked (bot.privacy.masking). The
sender id never leaves this module: a conversation is named by a keyed hash.

Flags, each explainable to an editor:
    low_confidence  the top intent scored below `low_confidence` (data/inbox.yml)
    fallback        the NLU said nlu_fallback, or the bot answered with a fallback
    handoff         the citizen asked for a person (request_human)
    bad_rating      the conversation ended with a 差评 (score ≤ 2, read as
                    bot.applications.ratings reads it)

`suggestions()` groups misunderstood messages by a shared word (jieba tokens,
greedy: the word shared by most messages first) and says what would fix the
group: the word as a synonym of the bundle the messages point to, or the messages
as examples of the intent they were meant as.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import sqlalchemy as sa
import yaml

from bot.applications.ratings import FLAG_AT_OR_BELOW, parse_score
from bot.config import ROOT, VAR_DIR, derived_secret
from bot.privacy import crypto
from bot.privacy.masking import mask_text
from bot.privacy.vault import TOKEN_RE

SETTINGS_FILE = ROOT / "data" / "inbox.yml"
FLAGS = ("low_confidence", "fallback", "handoff", "bad_rating")
SEAL_PREFIX = "fernet:"  # bot.tracker_store.PREFIX (importing that module loads Rasa)
FALLBACK_ACTIONS = {"action_default_fallback", "utter_default", "action_two_stage_fallback",
                    "utter_ask_rephrase", "action_default_ask_affirmation"}
HANDOFF_INTENTS = {"request_human"}
_events = sa.table("events", sa.column("id"), sa.column("sender_id"), sa.column("type_name"),
                   sa.column("timestamp"), sa.column("intent_name"), sa.column("action_name"),
                   sa.column("data"))


@cache
def settings() -> dict:
    return yaml.safe_load(SETTINGS_FILE.read_text(encoding="utf-8"))


def tracker_url() -> str | None:
    """The store `make run` configures (bot.run.tracker_store_config): TRACKER_DB_URL,
    else var/tracker.db; None when that file does not exist yet (no conversations)."""
    url = os.environ.get("TRACKER_DB_URL")
    if url:
        return url
    path = Path(VAR_DIR) / "tracker.db"
    return f"sqlite:///{path}" if path.exists() else None


def _unseal(stored: str) -> dict:
    if stored.startswith(SEAL_PREFIX):
        return json.loads(crypto.decrypt(stored[len(SEAL_PREFIX):]))
    return json.loads(stored)


def masked(text: str) -> str:
    """A citizen's words as an editor may see them."""
    text = TOKEN_RE.sub(lambda m: f"⟪{m.group(1)}⟫", text or "")
    return mask_text(text)


def has_personal_data(text: str) -> bool:
    """True when the stored words held a vaulted or raw 身份证号/phone (not a training text)."""
    return bool(TOKEN_RE.search(text or "")) or mask_text(text or "") != (text or "")


@dataclass
class Message:
    id: int                      # the tracker event's row id
    conversation: str            # keyed hash of the sender id
    channel: str | None
    text: str                    # masked
    at: str
    intent: str | None
    confidence: float | None
    bundle: str | None           # from the bundle entity of this message
    later_bundle: str | None     # the bundle the citizen's next confident message named
    alternatives: list[dict]     # next intents of the ranking: [{"intent", "confidence"}]
    flags: list[str] = field(default_factory=list)
    personal_data: bool = False  # held 身份证号/phone: may go to review, not to training

    def as_json(self) -> dict:
        return asdict(self)


class Inbox:
    def __init__(self, url: str | None = None, *, scan: int | None = None):
        self._url = url
        self._scan = scan or int(settings()["scan_events"])
        self.low_confidence = float(settings()["low_confidence"])

    def _engine(self) -> sa.Engine | None:
        url = self._url or tracker_url()
        return sa.create_engine(url) if url else None

    def _rows(self) -> list:
        engine = self._engine()
        if engine is None:
            return []
        try:
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table("events"):
                    return []
                rows = conn.execute(
                    sa.select(_events).where(_events.c.type_name.in_(("user", "action")))
                    .order_by(_events.c.id.desc()).limit(self._scan)).all()
        finally:
            engine.dispose()
        return sorted(rows, key=lambda r: r.id)

    def messages(self, flag: str | None = None, limit: int = 100) -> list[Message]:
        """Newest first; with `flag`, only messages that carry it."""
        if flag is not None and flag not in FLAGS:
            raise ValueError(f"unknown flag {flag!r}")
        key = derived_secret("editor-inbox").encode()
        per_sender: dict[str, list] = defaultdict(list)
        for row in self._rows():
            per_sender[row.sender_id].append(row)
        found: list[Message] = []
        for sender, rows in per_sender.items():
            conversation = hmac.new(key, sender.encode(), hashlib.sha256).hexdigest()[:16]
            found += self._conversation(conversation, rows)
        found.sort(key=lambda m: m.id, reverse=True)
        if flag:
            found = [m for m in found if flag in m.flags]
        return found[:limit]

    def message(self, event_id: int) -> Message | None:
        return next((m for m in self.messages(limit=self._scan) if m.id == event_id), None)

    def _conversation(self, conversation: str, rows: list) -> list[Message]:
        out: list[Message] = []
        last: Message | None = None
        for row in rows:
            if row.type_name == "action":
                if last is not None and row.action_name in FALLBACK_ACTIONS:
                    _flag(last, "fallback")
                continue
            try:
                data = _unseal(row.data)
            except Exception:  # noqa: BLE001 - a row sealed with another key: skip, never crash
                continue
            text = data.get("text") or ""
            if not text or text.startswith("/"):  # buttons send /intent{…} payloads
                last = None
                continue
            parse = data.get("parse_data") or {}
            intent = (parse.get("intent") or {}).get("name") or row.intent_name
            confidence = (parse.get("intent") or {}).get("confidence")
            bundle = next((e.get("value") for e in parse.get("entities") or []
                           if e.get("entity") == "bundle"), None)
            ranking = [{"intent": r.get("name"), "confidence": r.get("confidence")}
                       for r in (parse.get("intent_ranking") or [])[:4] if r.get("name") != intent]
            stamp = data.get("timestamp") or row.timestamp or 0
            m = Message(id=row.id, conversation=conversation, channel=data.get("input_channel"),
                        text=masked(text), at=datetime.fromtimestamp(stamp, timezone.utc).isoformat(),
                        intent=intent, confidence=confidence, bundle=bundle, later_bundle=None,
                        alternatives=ranking[:3], personal_data=has_personal_data(text))
            if confidence is not None and confidence < self.low_confidence:
                _flag(m, "low_confidence")
            if intent == "nlu_fallback":
                _flag(m, "fallback")
            if intent in HANDOFF_INTENTS:
                _flag(m, "handoff")
            if intent == "rate_service":
                score, _ = parse_score(text)
                if score is not None and score <= FLAG_AT_OR_BELOW:
                    for earlier in (*out, m):  # the conversation this rating judges
                        _flag(earlier, "bad_rating")
            out.append(m)
            last = m
        for n, m in enumerate(out):  # a citizen who rephrases says what they meant
            if m.bundle is None:
                m.later_bundle = next((x.bundle for x in out[n + 1:n + 3] if x.bundle and
                                       "low_confidence" not in x.flags), None)
        return out

    def suggestions(self, bundle_names: dict[str, list[str]], limit: int = 10) -> list[dict]:
        """Clusters of misunderstood messages (low confidence or fallback) by a shared
        word, each with what would fix it. `bundle_names`: bundle id → its name and
        synonyms (the live content), to tell a new word from one already known."""
        misunderstood = [m for m in self.messages(limit=self._scan)
                         if {"low_confidence", "fallback"} & set(m.flags)]
        return suggest(misunderstood, bundle_names, limit=limit)


def _flag(m: Message, flag: str) -> None:
    if flag not in m.flags:
        m.flags.append(flag)


_TOKEN_OK = re.compile(r"^[\w\u4e00-\u9fff]{2,}$")


def tokens(text: str) -> set[str]:
    """The words of a message that may explain it: jieba tokens of two or more
    characters, without stopwords or masked personal data."""
    import jieba

    jieba.setLogLevel(60)
    clean = unicodedata.normalize("NFKC", TOKEN_RE.sub(" ", re.sub(r"⟪[^⟫]*⟫", " ", text)))
    stop = set(settings()["stopwords"])
    return {w for w in jieba.lcut(clean) if _TOKEN_OK.match(w) and w not in stop
            and not w.isdigit() and "*" not in w}


def suggest(messages: list[Message], bundle_names: dict[str, list[str]], *,
            limit: int = 10) -> list[dict]:
    """Greedy clustering: the word shared by the most (still unclustered) messages
    makes a cluster; repeat. For each cluster:
      - the word names no bundle yet and the messages point at one bundle (their
        bundle entity, or a known name of a bundle in the text) → "synonym":
        add the word as a colloquial name of that bundle;
      - otherwise → "examples": add the messages as training examples of the
        intent most of them were meant as (their top intent other than nlu_fallback).
    """
    known = {name: b for b, names in bundle_names.items() for name in names}
    words = {m.id: tokens(m.text) for m in messages}
    left = {m.id: m for m in messages}
    out: list[dict] = []
    min_size = int(settings()["min_cluster"])
    while left and len(out) < limit:
        counts = Counter(w for mid in left for w in words[mid])
        if not counts:
            break
        word, size = max(counts.items(), key=lambda kv: (kv[1], len(kv[0]), kv[0]))
        if size < min_size:
            break
        members = [left.pop(mid) for mid in list(left) if word in words[mid]]
        out.append(_explain(word, members, known))
    return out


def _pointed_bundle(m: Message, known: dict[str, str]) -> str | None:
    if m.bundle or m.later_bundle:
        return m.bundle or m.later_bundle
    hits = [b for name, b in known.items() if len(name) >= 2 and name in m.text]
    return hits[0] if len(set(hits)) == 1 else None


def _meant_intent(m: Message) -> str | None:
    if m.intent and m.intent != "nlu_fallback":
        return m.intent
    return next((a["intent"] for a in m.alternatives if a["intent"] != "nlu_fallback"), None)


def _explain(word: str, members: list[Message], known: dict[str, str]) -> dict:
    bundles = Counter(b for b in (_pointed_bundle(m, known) for m in members) if b)
    intents = Counter(i for i in (_meant_intent(m) for m in members) if i)
    bundle, bundle_votes = bundles.most_common(1)[0] if bundles else (None, 0)
    intent = intents.most_common(1)[0][0] if intents else None
    suggestion = {"word": word, "messages": [m.id for m in members], "count": len(members),
                  "texts": [m.text for m in members][:5], "bundle": bundle, "intent": intent,
                  "word_known_as": known.get(word)}
    if word not in known and bundle and bundle_votes * 2 > len(members):
        suggestion["kind"] = "synonym"
    else:
        suggestion["kind"] = "examples"
    return suggestion
