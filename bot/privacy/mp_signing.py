"""Keys of the mini-program backend, derived from YJS_DATA_KEY.

One secret to manage: the data key. Each use gets its own HMAC-derived key,
so a session token can never pass for a channel signature or a blind index.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from bot.privacy.crypto import data_key


def derived_key(purpose: str) -> bytes:
    """A 32-byte key for `purpose` ("mp-session", "mp-channel"), stable across processes."""
    return hmac.new(base64.urlsafe_b64decode(data_key()), f"yjs/{purpose}".encode(),
                    hashlib.sha256).digest()


# -- the private channel between the backend and the Rasa server ------------
SIGNATURE_HEADER = "X-YJS-MP-Signature"
MAX_SKEW = 60  # seconds; the backend and Rasa share a clock (same host or NTP)


def _mac(t: int, nonce: str, body: bytes) -> str:
    return hmac.new(derived_key("mp-channel"), f"{t}.{nonce}.".encode() + body,
                    hashlib.sha256).hexdigest()


def sign_body(body: bytes, now: float | None = None, nonce: str | None = None) -> str:
    """Header value `t=<unix>,n=<nonce>,v1=<hex HMAC of "t.n." + body>` for a chat
    forward. The nonce makes each forward single-use (the channel refuses a replay)."""
    t = int(now if now is not None else time.time())
    nonce = nonce or secrets.token_hex(12)
    return f"t={t},n={nonce},v1={_mac(t, nonce, body)}"


def verify_body(header: str | None, body: bytes, now: float | None = None) -> str | None:
    """The nonce of a fresh signature the backend made over exactly this body, else
    None. The caller must still refuse a nonce it has seen (channels.miniprogram)."""
    if not header:
        return None
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts.get("t", ""))
    except ValueError:
        return None
    nonce = parts.get("n", "")
    if not 16 <= len(nonce) <= 64 or not nonce.isalnum():
        return None
    now = now if now is not None else time.time()
    if abs(now - t) > MAX_SKEW:
        return None
    return nonce if hmac.compare_digest(_mac(t, nonce, body), parts.get("v1", "")) else None
