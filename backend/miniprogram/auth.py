"""POST /api/mp/login: a wx.login code becomes our own session token.

code2Session tells us who the user is (openid). Its session_key is dropped
here: no endpoint decrypts WeChat user data, so it is never stored, logged
or returned.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os

from aiohttp import web

from backend.miniprogram.common import PREFIX, SETTINGS, TOKENS, ApiError, mp_client, read_json
from bot.ratelimit import RateLimiter

logger = logging.getLogger("backend.miniprogram")

# code2Session errcodes that mean "this code is no good" (40029 invalid, 40163 used,
# 40226 a blocked high-risk user): the mini-program should call wx.login again.
BAD_CODE = frozenset({40029, 40163, 40226, 41008})
# Logins per client address and minute (each one costs a code2Session call).
LOGIN_LIMIT = web.AppKey("mp_login_limit", RateLimiter)


def login_limiter() -> RateLimiter:
    return RateLimiter(int(os.environ.get("WECHAT_MP_LOGIN_PER_MINUTE") or 20))


async def login(request: web.Request) -> web.Response:
    from wechat.api import WeChatAPIError

    wait = request.app[LOGIN_LIMIT].allow(request.remote or "")
    if wait:
        raise ApiError(429, "too_many_requests", "登录太频繁了，请稍后再试。",
                       retry_after=math.ceil(wait))
    body = await read_json(request)
    code = body.get("code")
    if not isinstance(code, str) or not code.strip() or len(code) > 128:
        raise ApiError(400, "bad_request", '请求体应为 {"code": "<wx.login 返回的 code>"}。')
    if not request.app[SETTINGS].mp_appid:
        raise ApiError(503, "not_configured", "小程序尚未配置（WECHAT_MP_APPID / WECHAT_MP_SECRET）。")
    try:
        result = await mp_client(request.app).wxa.code2session(code.strip())
    except WeChatAPIError as exc:
        if exc.errcode in BAD_CODE:
            raise ApiError(401, "login_failed", "登录已失效，请重新打开小程序再试。") from None
        logger.warning("code2Session failed: errcode %s", exc.errcode)
        raise ApiError(502, "wechat_unavailable", "微信服务暂时不可用，请稍后再试。") from None
    except (asyncio.TimeoutError, OSError) as exc:
        logger.warning("code2Session unreachable: %s", type(exc).__name__)
        raise ApiError(502, "wechat_unavailable", "微信服务暂时不可用，请稍后再试。") from None
    openid = getattr(result, "openid", None)
    if not openid:
        raise ApiError(401, "login_failed", "登录已失效，请重新打开小程序再试。")
    token, expires_in = request.app[TOKENS].issue(openid)
    logger.info("mini-program login %s…", openid[:6])
    return web.json_response({"token": token, "expires_in": expires_in})


def routes() -> list[web.RouteDef]:
    return [web.post(f"{PREFIX}/login", login)]
