"""GET /api/agent/stream: the console's live feed (Server-Sent Events).

One poller per backend process reads what changed in the handoff tables every
POLL seconds (new messages — the citizen's, arriving through the tracker-store hook
in the Rasa process, the agents', the bot's — and conversations whose state
changed) and fans it out to every open stream of that process. Several backend
processes each poll; the database is the only thing they share.

Events (`data` is JSON):
    event: hello         {"agent": username, "heartbeat": seconds}
    event: message       {"conversation": id, "message": {"id", "from", "text", "at", …}}
    event: conversation  the conversation summary of GET /api/agent/conversations
    : ping               every HEARTBEAT seconds (a comment line)
An open stream is the agent's heartbeat: the conversations they hold stay theirs
while it is open; without it (or POST /api/agent/heartbeat) they go back to the
queue after HANDOFF_AGENT_TIMEOUT. The stream ends when the session does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os

from aiohttp import web

from backend.staff.auth import principal_of, staff
from bot.handoff.service import Handoff

log = logging.getLogger("backend.agent.stream")

POLL = float(os.environ.get("HANDOFF_POLL", "0.1"))
HEARTBEAT = 15.0
MAX_STREAMS = 200


class Hub:
    """Subscribers (queues) and the poller that fills them."""

    def __init__(self, handoff: Handoff):
        self.handoff = handoff
        self.queues: set[asyncio.Queue] = set()
        self._task: asyncio.Task | None = None

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self.queues.add(q)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll())
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self.queues.discard(q)

    def end_streams(self) -> None:
        """Shutting down: every open stream ends (the consoles reconnect elsewhere)."""
        for q in list(self.queues):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait((None, None))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def publish(self, event: str, data: dict) -> None:
        for q in list(self.queues):
            try:
                q.put_nowait((event, data))
            except asyncio.QueueFull:  # a stuck console: it reloads and catches up
                self.queues.discard(q)

    async def _poll(self) -> None:
        last_id, last_update = -1, None
        while self.queues:
            try:
                msgs, convs, last_id, last_update = await asyncio.to_thread(
                    self.handoff.feed, last_id, last_update)
            except Exception:  # noqa: BLE001 - the database hiccupped; try again
                log.exception("handoff feed poll failed")
                await asyncio.sleep(1.0)
                continue
            for m in msgs:
                self.publish("message", {"conversation": m.conversation_id, "message": m.as_json()})
            for c in convs:
                self.publish("conversation", c.summary())
            await asyncio.sleep(POLL)


HUB = web.AppKey("agent_hub", Hub)


def _frame(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def stream(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    if len(hub.queues) >= MAX_STREAMS:
        return web.json_response({"error": "busy", "message": "连接过多，请稍后再试。"}, status=503)
    me = staff(request)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    q = hub.subscribe()
    handoff = hub.handoff
    loop = asyncio.get_running_loop()
    try:
        await asyncio.to_thread(handoff.heartbeat, me.account_id)
        await response.write(_frame("hello", {"agent": me.username, "heartbeat": HEARTBEAT}))
        beat = loop.time()
        while True:
            try:
                event, data = await asyncio.wait_for(q.get(), timeout=HEARTBEAT)
                if event is None:
                    break
                await response.write(_frame(event, data))
            except asyncio.TimeoutError:
                await response.write(b": ping\n\n")
            if loop.time() - beat >= HEARTBEAT:
                if await principal_of(request) is None:  # logged out or expired
                    break
                await asyncio.to_thread(handoff.heartbeat, me.account_id)
                beat = loop.time()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.unsubscribe(q)
    return response
