"""An agent's message to the citizen, on the citizen's own channel.

* Official Account: a customer-service message (wechat.api CustomService), sent now.
  WeChat allows them for 48 h after the citizen's last message, 5 per message of
  theirs; `window()` shows both, and a message WeChat refuses is stored `failed` with
  WeChat's errcode — never `sent`.
* Mini-program: `queued`; the chat page fetches it (GET /api/mp/agent-messages, a
  long poll) and it becomes `delivered`.
* REST: `queued`; returned with the bot's (empty) answer on the client's next
  POST /webhooks/rest/webhook (channels/rest.py), then `delivered`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import aiohttp
from aiohttp import web

from bot import senders
from bot.clock import now
from bot.handoff.service import FAILED, QUEUED, SENT, ConversationView, Handoff, MessageView
from wechat.api.client import WeChatAPIError
from wechat.config import WeChatSettings

log = logging.getLogger("backend.agent")

CS_WINDOW = timedelta(hours=48)
CS_PER_MESSAGE = 5
CLIENT = web.AppKey("agent_wechat_client", dict)


def window(handoff: Handoff, sender: str) -> dict | None:
    """The Official Account's customer-service window of this follower (None elsewhere)."""
    if senders.kind(sender) != senders.WECHAT:
        return None
    from wechat.inbox import Inbox

    last = Inbox().last_message_at(sender)
    if last is None:
        return {"open": False, "last_citizen_message": None, "closes_at": None,
                "allowance": 0, "limit": CS_PER_MESSAGE}
    closes = last + CS_WINDOW
    used = handoff.sent_since(sender, last)
    return {"open": now() < closes, "last_citizen_message": last.isoformat(),
            "closes_at": closes.isoformat(), "allowance": max(0, CS_PER_MESSAGE - used),
            "limit": CS_PER_MESSAGE}


def initial_status(conv: ConversationView) -> str:
    return "sending" if conv.channel == senders.WECHAT else QUEUED


def _client(app: web.Application):
    holder = app[CLIENT]
    if "oa" not in holder:
        from wechat.api import official_account

        s = WeChatSettings.from_env()
        holder["oa"] = official_account(s) if s.appid and s.secret else None
    return holder["oa"]


async def close(app: web.Application) -> None:
    client = app[CLIENT].pop("oa", None)
    if client is not None:
        await client.close()


async def deliver(app: web.Application, handoff: Handoff, conv: ConversationView,
                  message: MessageView) -> tuple[str, str | None]:
    """(status, error): sent | queued | failed. The status is stored before returning."""
    if conv.channel != senders.WECHAT:
        await asyncio.to_thread(handoff.set_status, message.id, QUEUED)
        return QUEUED, None
    client = _client(app)
    win = await asyncio.to_thread(window, handoff, conv.sender)
    error = None
    if client is None:
        error = "wechat_not_configured"
    elif not win or not win["open"]:
        error = "window_closed"
    elif win["allowance"] <= 0:
        error = "allowance_used"
    if error is None:
        try:
            await client.custom.send_text(conv.sender, message.raw, max_parts=1)
        except WeChatAPIError as exc:
            error = f"wechat_{exc.errcode}"
            log.warning("agent message %s refused by WeChat: %s", message.id, exc.errcode)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            # the fate of the send is unknown: say so, never "sent"
            error = f"unknown_{type(exc).__name__}"[:60]
    status = FAILED if error else SENT
    await asyncio.to_thread(handoff.set_status, message.id, status, error)
    return status, error
