"""What every mini-program route shares: app keys, the login check, JSON in and
out (errors like the department API: {"error": code, "message": text}), the
masking safety net and the optional content-safety check."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from backend.miniprogram.session import InvalidToken, MpSession, SessionTokens
from bot.applications.ratings import Ratings
from bot.applications.service import Applications
from bot.privacy.masking import mask_text
from wechat.config import WeChatSettings

logger = logging.getLogger("backend.miniprogram")

PREFIX = "/api/mp"
MAX_BODY = 16 * 1024
PUBLIC_PATHS = frozenset({f"{PREFIX}/login", f"{PREFIX}/openapi.json"})

SETTINGS = web.AppKey("mp_settings", WeChatSettings)
TOKENS = web.AppKey("mp_tokens", SessionTokens)
RATINGS = web.AppKey("mp_ratings", Ratings)
CLIENT = web.AppKey("mp_client", dict)  # {"client": mini-program API client, created lazily}
# sender -> asyncio.Lock: one request of a citizen at a time (dropped when unused)
LOCKS = web.AppKey("mp_locks", weakref.WeakValueDictionary)
RASA_URL = web.AppKey("mp_rasa_url", str)  # where the private Rasa channel listens

RISKY_MESSAGE = "内容可能包含不适宜的信息，请修改后再发送。"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> web.Response:
        return error(self.status, self.code, self.message, **self.extra)


def error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": code, "message": message, **extra}, status=status,
                             dumps=_dumps)


def _mask(value: Any) -> Any:
    """Every string passes through mask_text: no 身份证号 or phone leaves in clear."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask(v) for v in value]
    return value


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(_mask(data), status=status, dumps=_dumps)


def session(request: web.Request) -> MpSession:
    return request["mp_session"]


def sender_lock(request: web.Request) -> asyncio.Lock:
    """Serialises one citizen's requests (chat turns in order, one draft at a time)."""
    locks, sender = request.app[LOCKS], session(request).sender
    lock = locks.get(sender)
    if lock is None:
        lock = locks[sender] = asyncio.Lock()
    return lock


def apps(request: web.Request) -> Applications:
    from backend.common import APPS

    return request.config_dict[APPS]


async def read_json(request: web.Request) -> dict:
    """The body as a JSON object, or an ApiError (413 / 400) that says what is wrong."""
    if (request.content_length or 0) > MAX_BODY:
        raise ApiError(413, "too_large", f"请求体不能超过 {MAX_BODY} 字节。")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(8192):
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "too_large", f"请求体不能超过 {MAX_BODY} 字节。")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "请求体不是合法的 JSON。") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "请求体必须是 JSON 对象。")
    return body


def optional_str(body: dict, key: str, max_len: int = 500) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, "bad_request", f"{key} 必须是字符串。")
    if len(value) > max_len:
        raise ApiError(422, "too_long", f"{key} 最多 {max_len} 个字。")
    return value


@web.middleware
async def authenticate(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """Everything under /api/mp except login and the API description needs our token.

    The check runs before routing decisions are revealed: an unauthenticated
    request gets 401 and nothing else, whatever path it names.
    """
    path = request.path
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return await handler(request)
    try:
        if path not in PUBLIC_PATHS:
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header[:7].lower() == "bearer " else None
            try:
                request["mp_session"] = request.app[TOKENS].verify(token)
            except InvalidToken:
                return error(401, "unauthorized", "请先登录。")
        return await handler(request)
    except ApiError as exc:
        return exc.response()


def mp_client(app: web.Application):
    """The mini-program API client (helper A's wechat.api), made on first use."""
    holder = app[CLIENT]
    if "client" not in holder:
        from wechat.api import mini_program

        holder["client"] = mini_program(app[SETTINGS])
    return holder["client"]


def sec_check_enabled() -> bool:
    return os.environ.get("WECHAT_MP_SEC_CHECK", "").strip().lower() in ("1", "true", "yes", "on")


async def ensure_safe(request: web.Request, *texts: str | None) -> None:
    """WeChat's msgSecCheck for free text, when WECHAT_MP_SEC_CHECK=1.

    Risky content → 422 with a polite message. If WeChat cannot be reached
    the text passes (logged): a citizen's application must not hang on it.
    """
    if not sec_check_enabled():
        return
    openid = session(request).openid
    for text in texts:
        if not text or not text.strip():
            continue
        try:
            ok = await mp_client(request.app).wxa.msg_sec_check(openid, text)
        except Exception as exc:  # noqa: BLE001 - fail open, but say so
            logger.warning("msgSecCheck unavailable (%s); text passed unchecked", type(exc).__name__)
            continue
        if not ok:
            raise ApiError(422, "content_risky", RISKY_MESSAGE)
