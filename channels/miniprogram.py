"""The mini-program's private door into Rasa: POST /webhooks/miniprogram/webhook.

Only our backend (/api/mp/chat) may call it. The Rasa server is reachable from
outside (the Official Account push URL lives on it), so:
verify — every request carries an HMAC of its body made with a key derived from
  YJS_DATA_KEY, a timestamp (60 s window) and a nonce, checked in constant time
  before anything is parsed; a nonce is single-use across all Rasa processes
  (bot.nonces), so a captured request cannot be replayed; the sender must be
  "mp:<openid>" (bot.senders): this door never speaks for an Official Account or
  REST user;
parse — 身份证号 and phone numbers vaulted for that sender;
→ one `UserMessage`, answered with the collected bot messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import senders
from bot.nonces import NEW, Nonces, digest
from bot.privacy.mp_signing import MAX_SKEW, SIGNATURE_HEADER, verify_body
from bot.privacy.vault import Vault
from channels.rest import MAX_MESSAGE_CHARS

logger = logging.getLogger(__name__)

MAX_BODY = 16 * 1024


class MiniProgramInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "miniprogram"

    @cached_property
    def vault(self) -> Vault:
        return Vault()

    @cached_property
    def nonces(self) -> Nonces:
        return Nonces("miniprogram", ttl=2 * MAX_SKEW + 10)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("miniprogram_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.body or b""
            if len(body) > MAX_BODY:
                return response.json({"error": "too_large"}, status=413)
            nonce = verify_body(request.headers.get(SIGNATURE_HEADER), body)
            if not nonce or await asyncio.to_thread(self.nonces.use, nonce, digest(body)) != NEW:
                return response.json({"error": "forbidden"}, status=403)
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                return response.json({"error": "bad_json"}, status=400)
            if not isinstance(data, dict):
                return response.json({"error": "bad_json"}, status=400)
            try:
                sender = senders.miniprogram_sender(data.get("sender"))
            except senders.SenderRefused:
                return response.json({"error": "forbidden_sender"}, status=403)
            text = data.get("message")
            if not isinstance(text, str) or not text.strip():
                return response.json({"error": "bad_request"}, status=400)
            text = text[:MAX_MESSAGE_CHARS]
            if self.vault.stores(text):  # a number: vaulted in the database, off the loop
                text = await asyncio.to_thread(self.vault.protect, text, sender)
            else:  # none: no I/O, no thread hop
                text = self.vault.protect(text, sender)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender,
                                                 input_channel=self.name()))
            except asyncio.CancelledError:
                logger.error("miniprogram message timed out for %s…", sender[3:9])
            except Exception:  # noqa: BLE001 - answer with what was collected
                logger.exception("miniprogram message failed for %s…", sender[3:9])
            return response.json(collector.messages)

        return bp
