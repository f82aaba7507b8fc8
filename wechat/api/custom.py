"""Customer-service (客服) text messages: POST cgi-bin/message/custom/send.

Limits that shape this module:
* length: WeChat does not state the limit in the API reference; the server
  rejects a text ``content`` longer than 2048 bytes (UTF-8) with errcode 45002
  "content size out of limit" (confirmed by WeChat staff in the developer
  community). Long answers are therefore split into parts of at most
  ``TEXT_LIMIT_BYTES``, cutting at a paragraph break if possible, then a line
  break, then the end of a sentence, then a clause, and only as a last resort
  inside a clause; the parts are sent in order, one call each.
* count: since June 2023 a citizen's message allows 5 customer-service messages
  within 48 hours (errcode 45047 beyond that, 45015 once the window is over).
  A reply is capped at ``MAX_PARTS`` parts; what does not fit is cut with a note.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from wechat.api.client import WeChatAPIError, mask_openid

if TYPE_CHECKING:  # pragma: no cover
    from wechat.api import WeChatClient

log = logging.getLogger("wechat.api.custom")

TEXT_LIMIT_BYTES = 2048
MAX_PARTS = 5
TRUNCATED_NOTE = "……（内容较长，未能全部发送，请换个问法或分项询问）"

# Each pattern cuts text into consecutive segments that keep their trailing separator.
_LEVELS = (
    re.compile(r".*?(?:\n[ \t\u3000]*\n\s*|$)", re.S),  # paragraphs
    re.compile(r".*?(?:\n|$)", re.S),  # lines
    re.compile(r".*?(?:[。！？!?；;…]+[”’」』）)】]*\s*|$)", re.S),  # sentences
    re.compile(r".*?(?:[，,、：:]\s*|$)", re.S),  # clauses
)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _segments(text: str, level: int) -> list[str]:
    if level >= len(_LEVELS):  # characters: the last resort
        return list(text)
    return [s for s in _LEVELS[level].findall(text) if s]


def _split(text: str, limit: int, level: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for seg in _segments(text, level):
        if _size(current + seg) <= limit:
            current += seg
            continue
        if current.strip():
            parts.append(current)
        current = ""
        if _size(seg) <= limit:
            current = seg
        else:
            sub = _split(seg, limit, level + 1)
            parts.extend(sub[:-1])
            current = sub[-1] if sub else ""
    if current.strip():
        parts.append(current)
    return parts


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """Parts of ``text`` in order, each at most ``limit`` UTF-8 bytes once stripped."""
    text = text.strip()
    if not text:
        return []
    if _size(text) <= limit:
        return [text]
    return [p.strip() for p in _split(text, limit, 0) if p.strip()]


def fit_parts(text: str, limit: int = TEXT_LIMIT_BYTES, max_parts: int = MAX_PARTS) -> list[str]:
    """split_text, capped at ``max_parts`` parts; the last one says what was left out."""
    parts = split_text(text, limit)
    if len(parts) <= max_parts:
        return parts
    kept = parts[:max_parts]
    room = limit - _size(TRUNCATED_NOTE)
    last = kept[-1]
    while _size(last) > room:
        last = last[:-1]
    kept[-1] = last.rstrip() + TRUNCATED_NOTE
    return kept


class CustomService:
    def __init__(self, client: WeChatClient):
        self._client = client

    async def send_text(self, openid: str, text: str, *, max_parts: int = MAX_PARTS) -> int:
        """Send ``text`` as one or more ordered messages; returns how many were sent.

        If a later part fails, the error carries ``parts_sent`` (the parts WeChat
        already accepted) so that a caller never sends those again.
        """
        parts = fit_parts(text, TEXT_LIMIT_BYTES, max_parts)
        for index, part in enumerate(parts):
            try:
                await self._client.api(
                    "POST", "cgi-bin/message/custom/send", idempotent=False,
                    body={"touser": openid, "msgtype": "text", "text": {"content": part}})
            except WeChatAPIError as exc:
                exc.parts_sent = index
                raise
        if parts:
            log.info("customer-service text to %s: %d part(s)", mask_openid(openid), len(parts))
        return len(parts)
