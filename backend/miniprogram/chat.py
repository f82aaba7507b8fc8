"""POST /api/mp/chat: the assistant, bound to the logged-in openid.

The text goes to the Rasa server through the private mini-program channel
(channels/miniprogram.py) as sender "mp:<openid>", signed with the channel key;
the client can never choose the sender. One citizen's turns run in order.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
from aiohttp import web

from backend.miniprogram.common import (
    CLIENT,
    PREFIX,
    RASA_URL,
    ApiError,
    ensure_safe,
    read_json,
    reply,
    sender_lock,
    session,
)
from bot.privacy.mp_signing import SIGNATURE_HEADER, sign_body

logger = logging.getLogger("backend.miniprogram")

MAX_MESSAGE_CHARS = 1000
CHANNEL_PATH = "/webhooks/miniprogram/webhook"
TIMEOUT = aiohttp.ClientTimeout(total=60)
UNAVAILABLE = "助手暂时不可用，请稍后再试。"


def _http(app: web.Application) -> aiohttp.ClientSession:
    holder = app[CLIENT]
    if holder.get("http") is None or holder["http"].closed:
        holder["http"] = aiohttp.ClientSession(timeout=TIMEOUT)
    return holder["http"]


def _message(m: dict) -> dict | None:
    """A Rasa bot message as {text, buttons}; images and custom payloads are skipped."""
    text = m.get("text") if isinstance(m.get("text"), str) else ""
    buttons = [{"title": str(b.get("title", "")), "payload": str(b.get("payload") or b.get("title", ""))}
               for b in m.get("buttons") or [] if isinstance(b, dict)]
    if not text and not buttons:
        return None
    return {"text": text, "buttons": buttons}


async def forward(app: web.Application, sender: str, text: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": text}, ensure_ascii=False).encode()
    url = app[RASA_URL] + CHANNEL_PATH
    try:
        async with _http(app).post(url, data=body, headers={
                "Content-Type": "application/json", SIGNATURE_HEADER: sign_body(body)}) as resp:
            if resp.status != 200:
                logger.warning("Rasa answered %s to a mini-program message", resp.status)
                raise ApiError(503, "assistant_unavailable", UNAVAILABLE)
            data = await resp.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        logger.warning("Rasa unreachable: %s", type(exc).__name__)
        raise ApiError(503, "assistant_unavailable", UNAVAILABLE) from None
    return [m for m in (_message(x) for x in data if isinstance(x, dict)) if m] if isinstance(data, list) else []


async def chat(request: web.Request) -> web.Response:
    body = await read_json(request)
    text = body.get("message")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "bad_request", '请求体应为 {"message": "<要说的话>"}。')
    if len(text) > MAX_MESSAGE_CHARS:
        raise ApiError(422, "too_long", f"消息最多 {MAX_MESSAGE_CHARS} 个字，请精简一下。")
    await ensure_safe(request, text)
    async with sender_lock(request):
        messages = await forward(request.app, session(request).sender, text.strip())
    return reply({"messages": messages})


async def close_http(app: web.Application) -> None:
    http = app[CLIENT].pop("http", None)
    if http is not None:
        await http.close()


def routes() -> list[web.RouteDef]:
    return [web.post(f"{PREFIX}/chat", chat)]
