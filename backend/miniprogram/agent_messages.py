"""GET /api/mp/agent-messages?after=<id>&wait=<seconds>: what a hotline agent wrote to
this mini-program user (and the bot's notes about the handoff), as a long poll.

The chat page keeps one request open while the conversation is with a person: it
returns as soon as there is something (or after `wait`, at most 25 s, with an empty
list). Each message is handed over once (then `delivered` in the console). The
sender is the logged-in user's, never chosen by the client.
"""

from __future__ import annotations

import asyncio
import time
from functools import cache

from aiohttp import web

from backend.miniprogram.common import PREFIX, ApiError, reply, session
from bot.handoff.service import Handoff

MAX_WAIT = 25.0
POLL = 0.2


@cache
def _handoff() -> Handoff:
    return Handoff()


async def agent_messages(request: web.Request) -> web.Response:
    try:
        after = int(request.query.get("after", "0"))
        wait = min(MAX_WAIT, max(0.0, float(request.query.get("wait", "0"))))
    except ValueError:
        raise ApiError(400, "bad_request", "after 应为整数，wait 为 0–25 秒。") from None
    sender = session(request).sender
    h = _handoff()
    deadline = time.monotonic() + wait
    while True:
        rows = await asyncio.to_thread(h.take_pending, sender, after)
        if rows or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL)
    state = await asyncio.to_thread(h.state_of, sender)
    return reply({"messages": [{"id": m.id, "from": m.role, "text": m.text, "at": m.as_json()["at"]}
                               for m in rows], "state": state})


def routes() -> list[web.RouteDef]:
    return [web.get(f"{PREFIX}/agent-messages", agent_messages)]
