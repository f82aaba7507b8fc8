"""Keys of the mini-program backend, derived from YJS_DATA_KEY.

One secret to manage: the data key. Each use gets its own HMAC-derived key,
so a session token can never pass for a channel signature or a blind index.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from bot.privacy.crypto import data_key


def derived_key(purpose: str) -> bytes:
    """A 32-byte key for `purpose` ("mp-session", "mp-channel"), stable across processes."""
    return hmac.new(base64.urlsafe_b64decode(data_key()), f"yjs/{purpose}".encode(),
                    hashlib.sha256).digest()


# -- the private channel between the backend and the Rasa server ------------
SIGNATURE_HEADER = "X-YJS-MP-Signature"
MAX_SKEW = 60  # seconds; the backend and Rasa share a clock (same host or NTP)


def sign_body(body: bytes, now: float | None = None) -> str:
    """Header value `t=<unix>,v1=<hex HMAC of "t." + body>` for a chat forward."""
    t = int(now if now is not None else time.time())
    mac = hmac.new(derived_key("mp-channel"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_body(header: str | None, body: bytes, now: float | None = None) -> bool:
    """True only for a fresh signature the backend made over exactly this body."""
    if not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts.get("t", ""))
    except ValueError:
        return False
    now = now if now is not None else time.time()
    if abs(now - t) > MAX_SKEW:
        return False
    mac = hmac.new(derived_key("mp-channel"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts.get("v1", ""))
