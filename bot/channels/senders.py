"""Sender ids that belong to authenticated channels.

Rasa keys conversations by sender id alone. The WeChat channels vouch for their
senders (a signed push, a mini-program session), so the open REST webhook must not
be able to speak as one of them and read their conversation or applications.
"""

from __future__ import annotations

import re

MP_PREFIX = "mp:"  # mini-program users: "mp:" + openid
OPENID = re.compile(r"^o[A-Za-z0-9_-]{27}$")  # Official Account users: their openid


def is_reserved(sender: str) -> bool:
    return sender.startswith(MP_PREFIX) or bool(OPENID.match(sender))
