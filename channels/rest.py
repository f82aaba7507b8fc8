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

Retries: a client may send `message_id` (up to 64 of A–Z a–z 0–9 _ -), the same on
every retry of one message. A message whose id the conversation already holds is
not processed again: the answer is the bot messages stored after it. So a retry
after a lost answer (a process killed mid-turn, the balancer or the client trying
again on another process) is answered once and stored once.

Nobody vouches for a REST sender, so nothing here needs an identity: no
shared-data pre-fill (bot.applications.shared_data).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
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
MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def stored_answer(events: list[dict], message_id: str, sender: str) -> list[dict] | None:
    """The bot messages that followed the user message `message_id`, in the REST
    answer's shape; None when the conversation does not hold that message."""
    answer: list[dict] | None = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            if answer is not None:
                break
            if event.get("message_id") == message_id:
                answer = []
        elif kind == "bot" and answer is not None:
            message = {"recipient_id": sender, "text": event.get("text")}
            for key in ("buttons", "image", "attachment", "custom"):
                value = (event.get("data") or {}).get(key)
                if value:
                    message[key] = value
            answer.append({k: v for k, v in message.items() if v is not None})
    return answer


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
            message_id = data.get("message_id")
            if message_id is not None:
                if not isinstance(message_id, str) or not MESSAGE_ID.fullmatch(message_id):
                    return bad(400, "bad_message_id",
                               '"message_id" must be 1-64 of A-Z a-z 0-9 _ -')
                done = await self._answered(request, sender, message_id)
                if done is not None:
                    return response.json(done + await _agent_messages(sender))
            if self.vault.stores(text):  # a number: vaulted in the database, off the loop
                text = await asyncio.to_thread(self.vault.protect, text, sender)
            else:  # none: no I/O, no thread hop
                text = self.vault.protect(text, sender)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender,
                                                 input_channel=self.name(),
                                                 message_id=message_id))
            except asyncio.CancelledError:
                logger.error("REST message timed out for %s…", sender[:6])
            except Exception:  # noqa: BLE001 - answer with what was collected
                logger.exception("REST message failed for %s…", sender[:6])
            return response.json(collector.messages + await _agent_messages(sender))

        return bp

    @staticmethod
    async def _answered(request: Request, sender: str, message_id: str) -> list[dict] | None:
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or agent.tracker_store is None:
            return None
        tracker = await agent.tracker_store.retrieve(sender)
        if tracker is None:
            return None
        return stored_answer([e.as_dict() for e in tracker.events], message_id, sender)
