"""Password hashing: argon2id (argon2-cffi, RFC 9106 low-memory profile: 64 MiB,
3 passes), so a stolen table costs an attacker memory as well as time.

Unknown users are checked against a dummy hash, so a wrong username costs the
same time as a wrong password and the answer cannot tell them apart.
"""

from __future__ import annotations

import os
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

from bot.privacy.crypto import production

MAX_CHARS = 1024  # argon2 takes any length; this only bounds the work a request can ask for
PRODUCTION_MIN_CHARS = 12
SUGGESTED_MIN_CHARS = 12


class WeakPassword(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@cache
def hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


@cache
def _dummy_hash() -> str:
    return hasher().hash(secrets.token_urlsafe(24))


def min_chars() -> int:
    """STAFF_PASSWORD_MIN, else 12 in production and 1 elsewhere (a warning below 12)."""
    configured = os.environ.get("STAFF_PASSWORD_MIN", "").strip()
    if configured:
        return max(1, int(configured))
    return PRODUCTION_MIN_CHARS if production() else 1


def check_policy(password: str) -> None:
    if not isinstance(password, str) or not password:
        raise WeakPassword("empty_password", "the password is empty")
    if len(password) > MAX_CHARS:
        raise WeakPassword("password_too_long", f"the password is over {MAX_CHARS} characters")
    if len(password) < min_chars():
        raise WeakPassword("password_too_short",
                           f"the password needs at least {min_chars()} characters")


def is_weak(password: str) -> bool:
    return len(password) < SUGGESTED_MIN_CHARS


def hash_password(password: str) -> str:
    check_policy(password)
    return hasher().hash(password)


def verify(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; with no stored hash the dummy is checked
    (same cost) and the answer is False."""
    candidate = password if isinstance(password, str) and len(password) <= MAX_CHARS else ""
    try:
        return hasher().verify(stored or _dummy_hash(), candidate) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    try:
        return hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True
