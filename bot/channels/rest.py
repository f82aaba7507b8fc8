"""Rasa's REST channel, with 身份证号 and phone numbers vaulted on the way in.

Same URL and protocol as Rasa's own (`POST /webhooks/rest/webhook`,
{"sender", "message"}); the only difference is that the text Rasa sees,
stores in its tracker and sends to the action server carries vault tokens
instead of personal numbers.
"""

from __future__ import annotations

import logging
from functools import cached_property

from rasa.core.channels.rest import RestInput
from sanic.exceptions import Forbidden
from sanic.request import Request

from bot.channels.senders import is_reserved
from bot.privacy.vault import Vault

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000


class VaultedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @cached_property
    def vault(self) -> Vault:
        return Vault()

    async def _extract_sender(self, req: Request) -> str | None:
        sender = await super()._extract_sender(req)
        if sender is not None and is_reserved(str(sender)):
            raise Forbidden("this sender id belongs to a WeChat user; choose another one")
        return sender

    def _extract_message(self, req: Request) -> str | None:
        text = super()._extract_message(req)
        if not isinstance(text, str):
            return text
        text = text[:MAX_MESSAGE_CHARS]
        sender = req.json.get("sender") or "default"
        return self.vault.protect(text, str(sender))
