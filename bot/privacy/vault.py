"""The PII vault: 身份证号 and phone numbers are swapped for reference tokens
before a message enters Rasa, so trackers, events, slots and action payloads
never hold them in clear. Only the owner's conversation can resolve a token.

A token reads ⟪身份证号:k3j9x2m4p7⟫ or ⟪手机号:k3j9x2m4p7⟫: it says what was
there (for the NLU and for agents reading a transcript) and nothing more.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.db import session_factory
from bot.models import VaultEntry
from bot.privacy import crypto
from bot.privacy.masking import mask_id, mask_phone

KIND_LABELS = {"id_number": "身份证号", "phone": "手机号"}
_LABEL_KINDS = {v: k for k, v in KIND_LABELS.items()}
TOKEN_RE = re.compile(r"⟪(身份证号|手机号):([0-9a-z]{10})⟫")
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

# Long digit runs are 身份证号 (also mistyped ones, and numbers that embed one:
# 14–20 digits, maybe an X);
# 10–12 digits starting with 1 are (possibly mistyped) mobile numbers.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９ＸｘＸ", "0123456789XxX")
_PII_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"(?P<id>\d{14,20}|\d{14,18}[Xx]\d{0,2})"
    r"|(?:\+?86[- ]?)?(?P<phone>1[3-9]\d[- ]?\d{4}[- ]?\d{4}|1\d{9,11})"
    r")(?![0-9A-Za-z])"
)


@dataclass(frozen=True)
class Secret:
    kind: str  # id_number | phone
    value: str

    @property
    def masked(self) -> str:
        return mask_id(self.value) if self.kind == "id_number" else mask_phone(self.value)


def contains_pii(text: str) -> bool:
    return bool(_PII_RE.search(text.translate(_FULL_WIDTH)))


class Vault:
    def __init__(self, sessions: sessionmaker | None = None):
        self._sessions = sessions or session_factory()

    def protect(self, text: str | None, owner: str) -> str | None:
        """The text with each 身份证号 / phone number replaced by a token."""
        if not text:
            return text
        normalised = text.translate(_FULL_WIDTH)
        found = list(_PII_RE.finditer(normalised))
        if not found:
            return text
        owner_key = crypto.blind_index(owner)
        now = datetime.now(timezone.utc)
        parts, last = [], 0
        with self._sessions.begin() as session:
            for m in found:
                kind = "id_number" if m.group("id") else "phone"
                value = (m.group("id") or re.sub(r"\D", "", m.group("phone"))).upper()
                token = "".join(secrets.choice(_ALPHABET) for _ in range(10))
                session.add(VaultEntry(token=token, kind=kind, owner=owner_key,
                                       ciphertext=crypto.encrypt(value), created_at=now))
                parts += [normalised[last:m.start()], f"⟪{KIND_LABELS[kind]}:{token}⟫"]
                last = m.end()
        parts.append(normalised[last:])
        return "".join(parts)

    def reveal(self, text: str, owner: str) -> tuple[str, list[Secret]]:
        """Tokens in `text` resolved for this owner: (clear text, secrets found).

        A token of another conversation, or an unknown one, stays as it is.
        """
        tokens = TOKEN_RE.findall(text)
        if not tokens:
            return text, []
        owner_key = crypto.blind_index(owner)
        with self._sessions() as session:
            rows = session.execute(
                select(VaultEntry).where(VaultEntry.token.in_([t for _, t in tokens]))
            ).scalars().all()
        clear = {r.token: Secret(r.kind, crypto.decrypt(r.ciphertext))
                 for r in rows if r.owner == owner_key}
        secrets_found: list[Secret] = []

        def sub(m: re.Match) -> str:
            secret = clear.get(m.group(2))
            if secret is None or secret.kind != _LABEL_KINDS[m.group(1)]:
                return m.group(0)
            secrets_found.append(secret)
            return secret.value

        return TOKEN_RE.sub(sub, text), secrets_found
