"""Encryption at rest for personal data (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from YJS_DATA_KEY. In production (YJS_ENV=production) a missing
key is a start-up error; otherwise a development key is generated once under
var/ so that `make run` works out of the box. A second, derived key gives a
blind index: equal values can be looked up without storing them in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import cache

from cryptography.fernet import Fernet, InvalidToken

from bot.config import SecretMissing, private_file, production, var_dir

KEY_ENV = "YJS_DATA_KEY"
DEV_KEY_FILE = "dev-data.key"


class DataKeyMissing(SecretMissing):
    pass


__all__ = ["DataKeyMissing", "production", "data_key", "encrypt", "decrypt", "blind_index"]


def _dev_key() -> bytes:
    path = var_dir() / DEV_KEY_FILE
    if not path.exists():
        private_file(path, Fernet.generate_key())  # the first process to write wins
    return path.read_bytes().strip()


@cache
def data_key() -> bytes:
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        if production():
            raise DataKeyMissing(
                f"{KEY_ENV} is not set. In production the data key must come from the "
                "environment: generate one with `python -m bot gen-key` and keep it safe; "
                "without it stored 身份证号 and phone numbers cannot be read."
            )
        return _dev_key()
    try:
        Fernet(key.encode())
    except ValueError as exc:
        raise DataKeyMissing(f"{KEY_ENV} is not a valid key (32 url-safe base64 bytes)") from exc
    return key.encode()


@cache
def _fernet() -> Fernet:
    return Fernet(data_key())


@cache
def _index_key() -> bytes:
    return hmac.new(base64.urlsafe_b64decode(data_key()), b"blind-index", hashlib.sha256).digest()


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise DataKeyMissing("stored personal data cannot be decrypted with this key") from exc


def blind_index(value: str) -> str:
    """A keyed hash for equality look-ups (e.g. a citizen record by 身份证号)."""
    return hmac.new(_index_key(), value.strip().upper().encode("utf-8"), hashlib.sha256).hexdigest()


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")
