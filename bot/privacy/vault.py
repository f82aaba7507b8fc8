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
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from bot.db import session_factory
from bot.models import VaultEntry
from bot.privacy import crypto, pii
from bot.privacy.masking import mask_id, mask_phone

KIND_LABELS = {pii.ID: "身份证号", pii.PHONE: "手机号"}
_LABEL_KINDS = {v: k for k, v in KIND_LABELS.items()}
TOKEN_RE = re.compile(r"⟪(身份证号|手机号):([0-9a-z]{10})⟫")
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# Only the vault writes ⟪…⟫: brackets a citizen types are shown as 《…》.
_TYPED_BRACKETS = str.maketrans("⟪⟫", "《》")


@dataclass(frozen=True)
class Secret:
    kind: str  # id_number | phone
    value: str

    @property
    def masked(self) -> str:
        return mask_id(self.value) if self.kind == "id_number" else mask_phone(self.value)


def contains_pii(text: str) -> bool:
    return pii.contains(text)


def _token() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(10))


def _replace(text: str, found: list[pii.Found], tokens: list[str]) -> str:
    parts, last = [], 0
    for f, token in zip(found, tokens, strict=True):
        parts += [text[last:f.start], f"⟪{KIND_LABELS[f.kind]}:{token}⟫"]
        last = f.end
    parts.append(text[last:])
    return "".join(parts)


def redact(text: str | None) -> str | None:
    """Each number replaced by a token that resolves to nothing (nothing is stored):
    for texts no conversation owns, e.g. Rasa's /model/parse."""
    if not text:
        return text
    text = text.translate(_TYPED_BRACKETS)
    found = pii.find(text)
    return _replace(text, found, [_token() for _ in found]) if found else text


class Vault:
    def __init__(self, sessions: sessionmaker | None = None):
        self._sessions = sessions or session_factory()

    @staticmethod
    def stores(text: str | None) -> bool:
        """Whether protect(text) writes to the database (it holds a number): only
        then is it worth a thread off the event loop; otherwise protect() is a few
        microseconds of string work."""
        return bool(text) and bool(pii.find(text.translate(_TYPED_BRACKETS)))

    def protect(self, text: str | None, owner: str) -> str | None:
        """The text with each 身份证号 / phone number replaced by a token that only
        `owner` (exactly Rasa's sender id of the conversation) can resolve."""
        if not text:
            return text
        text = text.translate(_TYPED_BRACKETS)
        found = pii.find(text)
        if not found:
            return text
        owner_key = crypto.blind_index(owner)
        now = datetime.now(timezone.utc)
        tokens = [_token() for _ in found]
        with self._sessions.begin() as session:
            for f, token in zip(found, tokens, strict=True):
                session.add(VaultEntry(token=token, kind=f.kind, owner=owner_key,
                                       ciphertext=crypto.encrypt(f.value), created_at=now))
        return _replace(text, found, tokens)

    def purge(self, older_than: timedelta) -> int:
        """Forget tokens older than `older_than` (retention)."""
        cutoff = datetime.now(timezone.utc) - older_than
        with self._sessions.begin() as session:
            return session.execute(delete(VaultEntry).where(VaultEntry.created_at < cutoff)
                                   .execution_options(synchronize_session=False)).rowcount

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
