"""Rasa's bot messages as WeChat text.

WeChat text has no buttons, and a passive reply carries one message only. So the
messages of one turn are merged in order, and Rasa buttons become numbered choices
("回复数字：" then "1. …"). The choices are remembered with the turn
(wechat_inbound.reply), so that a citizen's "1" can be sent to Rasa as the payload of
button 1 — exactly what tapping it would have sent on another channel.

A turn in which a message numbers its own lines ("1. 出生医学证明签发 …", the options
of a form question) keeps those numbers: no button of that turn is numbered too — "1"
must mean item 1, not the first button of this or another message of the turn
("全部办理") — and the citizen's number goes to Rasa as typed. Buttons a text does not
already name are listed after it ("也可以回复：没有").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from wechatpy.replies import TextReply

# A passive text reply is safest under WeChat's customer-service text limit (2048
# bytes of UTF-8); longer answers go out as customer-service messages, split.
PASSIVE_MAX_BYTES = 2048
CHOICES_HEADER = "回复数字："
ALSO_HEADER = "也可以回复："
MAX_CHOICES = 20
_OWN_NUMBERS = re.compile(r"(?m)^\s*1\s*[.、．)）]\s*\S")

_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_CHOICE_RE = re.compile(r"\s*(?:选|选择|第)?\s*(\d{1,2})\s*(?:个|项|号)?\s*[.。、)）!！]?\s*")


@dataclass
class Rendered:
    text: str = ""
    choices: list[dict[str, str]] = field(default_factory=list)

    def as_reply(self) -> dict[str, Any]:
        """What wechat_inbound.reply keeps for this turn."""
        return {"text": self.text, "choices": self.choices}

    @property
    def fits_passive(self) -> bool:
        return len(self.text.encode("utf-8")) <= PASSIVE_MAX_BYTES


def _button_title(button: dict) -> str:
    return str(button.get("title") or button.get("payload") or "").strip()


def render(messages: list[dict[str, Any]]) -> Rendered:
    """One text for the turn: each message in order, its buttons numbered after it
    (numbers run on across messages, so each number names one payload)."""
    parts: list[str] = []
    choices: list[dict[str, str]] = []
    own_numbers = any(_OWN_NUMBERS.search(str(m.get("text") or "")) for m in messages)
    for message in messages:
        lines = []
        text = message.get("text")
        if text:
            lines.append(str(text).strip())
        if message.get("image"):
            lines.append(f"图片：{message['image']}")
        if message.get("attachment"):
            lines.append(f"附件：{message['attachment']}")
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("text"), str):
            lines.append(custom["text"].strip())
        buttons = [b for b in (message.get("buttons") or message.get("quick_replies") or [])
                   if isinstance(b, dict) and _button_title(b)]
        if buttons and own_numbers:
            extra = [_button_title(b) for b in buttons if _button_title(b) not in str(text or "")]
            if extra:
                lines.append(ALSO_HEADER + "、".join(f"“{t}”" for t in extra))
        elif buttons and len(choices) < MAX_CHOICES:
            numbered = [CHOICES_HEADER]
            for button in buttons[:MAX_CHOICES - len(choices)]:
                choices.append({"title": _button_title(button),
                                "payload": str(button.get("payload") or _button_title(button))})
                numbered.append(f"{len(choices)}. {_button_title(button)}")
            lines.append("\n".join(numbered))
        if lines:
            parts.append("\n".join(lines))
    return Rendered("\n\n".join(parts), choices)


def choice_payload(text: str | None, choices: list[dict[str, str]]) -> str | None:
    """The payload a bare number ("1", "１", "选2") stands for, if it names a choice."""
    if not text or not choices:
        return None
    match = _CHOICE_RE.fullmatch(text.translate(_FULL_WIDTH_DIGITS))
    if not match:
        return None
    index = int(match.group(1))
    if 1 <= index <= len(choices):
        return choices[index - 1].get("payload") or None
    return None


def text_reply_xml(openid: str, account: str, content: str, create_time: int) -> str:
    """The passive reply XML (plain; the channel seals it in safe mode).

    wechatpy writes fields as CDATA without escaping; a "]]>" in the text (a citizen's
    own words echoed back) would end the section early, so it is split across two."""
    safe = [v.replace("]]>", "]]]]><![CDATA[>") for v in (openid, account, content)]
    return TextReply(target=safe[0], source=safe[1], content=safe[2], time=create_time).render()
