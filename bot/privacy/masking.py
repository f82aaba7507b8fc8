"""Masked forms of personal data for replies, consoles and logs."""

from __future__ import annotations

import re

ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")


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


def mask_text(text: str) -> str:
    """Mask every 身份证号 and mobile number inside free text (for logs)."""
    text = ID_RE.sub(lambda m: mask_id(m.group(1)), text)
    return PHONE_RE.sub(lambda m: mask_phone("".join(m.groups())), text)
