"""Masked forms of personal data for replies, consoles and logs."""

from __future__ import annotations

import re

from bot.privacy import pii

# An address is shown down to its district or county, never the street or door.
_ADDRESS_HEAD = re.compile(r"^(.{2,}?(?:省|自治区))?(.{2,}?(?:自治州|地区|盟|市))?(.{1,}?(?:区|县|旗|市))?")


def mask_id(value: str) -> str:
    """4401**********1234: region and last four kept."""
    v = value.strip()
    if len(v) <= 8:
        return "*" * len(v)
    return v[:4] + "*" * (len(v) - 8) + v[-4:]


def mask_phone(value: str) -> str:
    """138****5678."""
    digits = re.sub(r"\D", "", value)[-11:]
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(value: str) -> str:
    """陈*琳, 陈*, 阿卜杜*·买买提 …: the family name and the last character stay."""
    v = value.strip()
    if len(v) <= 1:
        return v
    if len(v) == 2:
        return v[0] + "*"
    if "·" in v:  # 少数民族姓名: first part shown, the rest masked
        head = v.split("·", 1)[0]
        return head + "·" + "*" * (len(v) - len(head) - 1)
    return v[0] + "*" * (len(v) - 2) + v[-1]


def mask_address(value: str) -> str:
    """广州市天河区…: the city and district stay, the street and door number go."""
    v = value.strip()
    m = _ADDRESS_HEAD.match(v)
    head = "".join(g for g in (m.groups() if m else ()) if g)
    if not head or len(head) >= len(v):
        head = v[: min(4, len(v) // 2)]
    return head + "…"


def mask_text(text: str) -> str:
    """Mask every 身份证号 and mobile number inside free text (for logs and replies),
    found exactly as the vault finds them (bot.privacy.pii)."""
    parts, last = [], 0
    for f in pii.find(text):
        parts += [text[last:f.start], mask_id(f.value) if f.kind == pii.ID else mask_phone(f.value)]
        last = f.end
    parts.append(text[last:])
    return "".join(parts)
