"""Our own session token for mini-program users, issued after code2Session.

The token is `base64url(payload).base64url(HMAC-SHA256(payload))` with a key
derived from YJS_DATA_KEY; the payload carries the openid, issue time and
expiry. WeChat's session_key is not needed by any endpoint (we decrypt no
wx.getUserInfo / phone data), so it is dropped at login: never stored,
logged or returned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass

from bot.privacy.mp_signing import derived_key

DEFAULT_TTL = 2 * 3600
TOKEN_VERSION = 1
MAX_TOKEN_CHARS = 512


class InvalidToken(Exception):
    """Missing, malformed, tampered or expired; the caller answers 401 without detail."""


@dataclass(frozen=True)
class MpSession:
    openid: str
    issued_at: int
    expires_at: int

    @property
    def sender(self) -> str:
        """The Rasa sender id and outbox recipient of this user."""
        return "mp:" + self.openid


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_ttl() -> int:
    return int(os.environ.get("WECHAT_MP_SESSION_TTL") or DEFAULT_TTL)


class SessionTokens:
    def __init__(self, ttl: int | None = None, key: bytes | None = None):
        self.ttl = ttl or session_ttl()
        self._key = key or derived_key("mp-session")

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())

    def issue(self, openid: str, now: float | None = None) -> tuple[str, int]:
        """(token, expires_in seconds) for a user WeChat has just vouched for."""
        now_i = int(now if now is not None else time.time())
        payload = {"v": TOKEN_VERSION, "sub": openid, "iat": now_i, "exp": now_i + self.ttl}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}", self.ttl

    def verify(self, token: str | None, now: float | None = None) -> MpSession:
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise InvalidToken("malformed")
        body, sig = token.split(".")
        try:
            good = hmac.compare_digest(self._sign(body), sig)
        except (TypeError, UnicodeError):
            good = False
        if not good:
            raise InvalidToken("bad signature")
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, binascii.Error) as exc:
            raise InvalidToken("malformed") from exc
        if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
            raise InvalidToken("unknown version")
        openid, iat, exp = payload.get("sub"), payload.get("iat"), payload.get("exp")
        if not isinstance(openid, str) or not openid or not isinstance(exp, int) or not isinstance(iat, int):
            raise InvalidToken("malformed")
        if exp <= (now if now is not None else time.time()):
            raise InvalidToken("expired")
        return MpSession(openid, iat, exp)
