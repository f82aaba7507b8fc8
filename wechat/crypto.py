"""Authenticating what WeChat pushes to the Official Account URL, and sealing replies.

WeChat signs each push with SHA-1 over the sorted (token, timestamp, nonce) — plain
mode `signature` — and, in safe mode, over (token, timestamp, nonce, Encrypt) —
`msg_signature`. wechatpy computes these and does the AES-256-CBC work
(wechatpy.crypto); what it leaves out we add here:

- constant-time comparison of signatures (hmac.compare_digest);
- a freshness window on `timestamp` (WeChat defines none, wechatpy checks none);
- key rotation: the current and the previous EncodingAESKey are both tried, and the
  AppID sealed inside the ciphertext must be ours whichever key opened it.

Replays are refused by the channel (channels.wechat) through the shared nonce table
(bot.nonces): a (timestamp, nonce) may come again only with the very same request —
WeChat's own retries are byte-identical and must be answered, not refused — never
with another body. In plain mode `signature` does not cover the body, so that rule is
what stops a captured signature from carrying a forged message; with an
EncodingAESKey configured the channel accepts safe mode only (msg_signature covers
the ciphertext).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import string
import time
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
    """A used (timestamp, nonce) with another request than the one it came with."""


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


class PushCrypto:
    """Checks and opens pushes for one Official Account; seals passive replies."""

    def __init__(self, settings: WeChatSettings, clock: Callable[[], float] = time.time):
        self.settings, self._clock = settings, clock
        self.token = settings.token
        self.appid = settings.appid
        self._keys = [_aes_key(k) for k in settings.aes_keys]

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

    def verify(self, *, timestamp: str | None, nonce: str | None, signature: str | None,
               msg_signature: str | None = None, encrypt: str | None = None) -> None:
        """Everything but decryption and replay: signatures, then freshness."""
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
