"""Who a Rasa sender id is: the identity checks of every channel, in one place.

Rasa keys conversations by sender id alone, so the id says which door a citizen
came through, and only that door may use it:

* an Official Account follower is their openid (28 characters), vouched for by
  WeChat's signed push;
* a mini-program user is "mp:" + openid, vouched for by our backend's login;
* anything else is a REST client, which nobody vouches for: it may name itself,
  but never as one of the above, and it gets nothing that needs an identity
  (no shared-data pre-fill).
"""

from __future__ import annotations

import re

MP_PREFIX = "mp:"  # mini-program users: "mp:" + openid
OPENID = re.compile(r"^[A-Za-z0-9_-]{28}$")  # WeChat openids are 28 characters
_MP_SENDER = re.compile(r"^mp:[A-Za-z0-9_-]{6,64}$")
MAX_REST_SENDER = 128

WECHAT, MINIPROGRAM, REST = "wechat", "miniprogram", "rest"


class SenderRefused(ValueError):
    """`status`: 400 not a sender id at all, 403 one this channel may not use."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def is_reserved(sender: str) -> bool:
    """Ids that belong to a channel that vouches for its users."""
    return sender.startswith(MP_PREFIX) or bool(OPENID.match(sender))


def kind(sender: str) -> str:
    if _MP_SENDER.match(sender):
        return MINIPROGRAM
    if OPENID.match(sender):
        return WECHAT
    return REST


def vouched(sender: str) -> bool:
    """True when a channel authenticated this sender (WeChat or the mini-program)."""
    return kind(sender) != REST


def rest_sender(value: object) -> str:
    """The REST client's `sender`: a string of its own, never a WeChat user's id."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_REST_SENDER:
        raise SenderRefused(400, f'"sender" must be a string of 1–{MAX_REST_SENDER} characters')
    if is_reserved(value):
        raise SenderRefused(403, "this sender id belongs to a WeChat user; choose another one")
    return value


def wechat_sender(openid: object) -> str:
    """FromUserName of an authenticated push."""
    if not isinstance(openid, str) or not OPENID.match(openid):
        raise SenderRefused(400, "FromUserName is not an openid")
    return openid


def miniprogram_sender(value: object) -> str:
    """The sender our backend signed for: "mp:" + the logged-in openid."""
    if not isinstance(value, str) or not _MP_SENDER.match(value):
        raise SenderRefused(403, "not a mini-program sender")
    return value
