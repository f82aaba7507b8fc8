"""Rasa's REST channel: POST /webhooks/rest/webhook {"sender", "message"}.

Same URL and protocol as Rasa's own, stricter on what it takes:
verify — a JSON object whose `sender` is a string of the client's own (400
  otherwise; 403 for a WeChat user's id, bot.senders) and whose `message` is a
  string; the body is capped;
parse — 身份证号 and phone numbers vaulted for exactly that sender id; the
  client's `metadata` and `input_channel` are dropped (a client cannot pass for
  another channel or slip data into the tracker);
→ one `UserMessage`, answered with the collected bot messages (JSON list), followed
  by what a hotline agent wrote to this sender since its last call (bot.handoff).

Nobody vouches for a REST sender, so nothing here needs an identity: no
shared-data pre-fill (bot.applications.shared_data).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from functools import cache, cached_property
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import senders
from bot.handoff import feed as handoff_feed
from bot.privacy.vault import Vault

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_BODY = 32 * 1024


def bad(status: int, error: str, message: str) -> HTTPResponse:
    return response.json({"error": error, "message": message}, status=status)


async def _agent_messages(sender: str) -> list[dict]:
    """What a hotline agent wrote to this REST client since its last call: delivered with
    this answer, each once ({"recipient_id", "text", "custom": {"from": "agent"|"bot",
    "handoff_message": id}})."""
    if not handoff_feed.ENABLED:
        return []
    rows = await asyncio.to_thread(_handoff().take_pending, sender)
    return [{"recipient_id": sender, "text": m.raw,
             "custom": {"from": m.role, "handoff_message": m.id}} for m in rows]


@cache
def _handoff():
    from bot.handoff.service import Handoff

    return Handoff()


class RestInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @cached_property
    def vault(self) -> Vault:
        return Vault()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("rest_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.body or b""
            if len(body) > MAX_BODY:
                return bad(413, "too_large", f"body over {MAX_BODY} bytes")
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                return bad(400, "bad_json", "body must be a JSON object")
            if not isinstance(data, dict):
                return bad(400, "bad_json", "body must be a JSON object")
            try:
                sender = senders.rest_sender(data.get("sender"))
            except senders.SenderRefused as exc:
                return bad(exc.status, "bad_sender", str(exc))
            text = data.get("message")
            if not isinstance(text, str):
                return bad(400, "bad_message", '"message" must be a string')
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
                logger.error("REST message timed out for %s…", sender[:6])
            except Exception:  # noqa: BLE001 - answer with what was collected
                logger.exception("REST message failed for %s…", sender[:6])
            return response.json(collector.messages + await _agent_messages(sender))

        return bp
