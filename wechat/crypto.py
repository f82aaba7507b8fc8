"""Authenticating what WeChat pushes to the Official Account URL, and sealing replies.

WeChat signs each push with SHA-1 over the sorted (token, timestamp, nonce) — plain
mode `signature` — and, in safe mode, over (token, timestamp, nonce, Encrypt) —
`msg_signature`. wechatpy computes these and does the AES-256-CBC work
(wechatpy.crypto); what it leaves out we add here:

- constant-time comparison of signatures (hmac.compare_digest);
- a freshness window on `timestamp` (WeChat defines none, wechatpy checks none);
- refusal of replays: the same (signature, timestamp, nonce) seen again;
- key rotation: the current and the previous EncodingAESKey are both tried, and the
  AppID sealed inside the ciphertext must be ours whichever key opened it.

Replays are remembered in a small in-process TTL cache, not in the database. A
replayed request that reaches another server process passes the cache but still
cannot do anything: the message inside is deduplicated by its MsgId (or
FromUserName+CreateTime) in the shared table wechat_inbound (wechat/inbox.py), so the
dialogue never runs twice and the stored answer is all it can get back. A shared nonce
table would cost a database write per push, on the path that must answer within 5 s,
to refuse a little earlier what dedup already makes harmless; and anything older than
the freshness window is refused anyway, so the cache only has to cover that window.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.utils import WeChatSigner

from wechat.config import WeChatSettings


class Refused(Exception):
    """The push is not provably from WeChat now: answered 403, nothing processed."""


class BadSignature(Refused):
    pass


class Stale(Refused):
    pass


class Replayed(Refused):
    pass


class Undecryptable(Refused):
    """No configured key opens the ciphertext, or it was sealed for another AppID."""


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted parts concatenated (wechatpy's signer)."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def _same(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).lower().encode())


def _aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key from the 43-character EncodingAESKey."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("EncodingAESKey must be 43 base64 characters") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must be 43 base64 characters")
    return key


class NonceCache:
    """(signature, timestamp, nonce) triples seen within the freshness window.

    Bounded: the oldest entries go first when full (a flood of valid pushes cannot
    exhaust memory; what falls out is still covered by message dedup).
    """

    def __init__(self, ttl: float, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl, self.max_entries, self._clock = ttl, max_entries, clock
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def check_and_add(self, signature: str, timestamp: str, nonce: str) -> bool:
        """True the first time a triple is seen; False for a replay."""
        now, key = self._clock(), (signature.lower(), timestamp, nonce)
        with self._lock:
            while self._seen:
                oldest, expires = next(iter(self._seen.items()))
                if expires > now and len(self._seen) < self.max_entries:
                    break
                del self._seen[oldest]
            if key in self._seen:
                return False
            self._seen[key] = now + self.ttl
            return True


class PushCrypto:
    """Checks and opens pushes for one Official Account; seals passive replies."""

    def __init__(self, settings: WeChatSettings, clock: Callable[[], float] = time.time):
        self.settings, self._clock = settings, clock
        self.token = settings.token
        self.appid = settings.appid
        self._keys = [_aes_key(k) for k in settings.aes_keys]
        # Both sides of the window, plus slack so a triple outlives its own freshness.
        self.replays = NonceCache(ttl=2 * settings.max_clock_skew + 60)

    @property
    def safe_mode_ready(self) -> bool:
        return bool(self._keys and self.appid and self.token)

    # -- checks, in the order the channel applies them ---------------------------

    def check_fresh(self, timestamp: str | None) -> None:
        try:
            sent = int(str(timestamp))
        except ValueError:
            raise Stale("timestamp missing or not a number") from None
        if abs(self._clock() - sent) > self.settings.max_clock_skew:
            raise Stale("timestamp outside the freshness window")

    def check_signature(self, signature: str | None, timestamp: str, nonce: str) -> None:
        """Plain-mode `signature` (also sent with GET verification and in safe mode)."""
        if not _same(sign(self.token, timestamp, nonce), signature):
            raise BadSignature("signature does not match")

    def check_msg_signature(self, msg_signature: str | None, timestamp: str, nonce: str,
                            encrypt: str) -> None:
        """Safe-mode `msg_signature`: also covers the ciphertext."""
        if not _same(sign(self.token, timestamp, nonce, encrypt), msg_signature):
            raise BadSignature("msg_signature does not match")

    def check_not_replayed(self, signature: str, timestamp: str, nonce: str) -> None:
        """Call only once the request is otherwise authentic (no cache poisoning)."""
        if not self.replays.check_and_add(signature, timestamp, nonce):
            raise Replayed("this signature, timestamp and nonce were already used")

    def verify(self, *, timestamp: str | None, nonce: str | None, signature: str | None,
               msg_signature: str | None = None, encrypt: str | None = None) -> None:
        """Everything but decryption: signatures, freshness, then replay."""
        if not self.token:
            raise BadSignature("no token configured")
        timestamp, nonce = str(timestamp or ""), str(nonce or "")
        if not timestamp or not nonce:
            raise BadSignature("timestamp and nonce are required")
        if encrypt is not None:
            self.check_msg_signature(msg_signature, timestamp, nonce, encrypt)
            if signature is not None:
                self.check_signature(signature, timestamp, nonce)
        else:
            self.check_signature(signature, timestamp, nonce)
        self.check_fresh(timestamp)
        self.check_not_replayed(str(msg_signature if encrypt is not None else signature),
                                timestamp, nonce)

    # -- AES ---------------------------------------------------------------------

    def decrypt(self, encrypt: str) -> str:
        """The inner XML. Tries the current key, then the previous one (rotation)."""
        if not self.safe_mode_ready:
            raise Undecryptable("safe mode is not configured (EncodingAESKey, AppID)")
        for key in self._keys:
            try:
                return PrpCrypto(key).decrypt(encrypt, self.appid)
            except Exception:  # noqa: BLE001,S112 - wrong key, bad padding, wrong AppID: next
                continue
        raise Undecryptable("no configured EncodingAESKey opens this message for our AppID")

    def encrypt_reply(self, xml: str, nonce: str | None = None,
                      timestamp: str | None = None) -> str:
        """The safe-mode reply envelope (Encrypt, MsgSignature, TimeStamp, Nonce),
        sealed with the current key."""
        if not self.safe_mode_ready:
            raise Undecryptable("safe mode is not configured (EncodingAESKey, AppID)")
        crypto = WeChatCrypto(self.token, self.settings.aes_key, self.appid)
        nonce = nonce or "".join(secrets.choice(string.digits) for _ in range(10))
        return crypto.encrypt_message(xml, nonce, timestamp or str(int(self._clock())))
