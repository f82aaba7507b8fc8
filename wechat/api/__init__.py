"""Async client for WeChat's API servers (aiohttp; wechatpy is requests-based).

    client = official_account(settings)          # the Official Account (公众号)
    await client.custom.send_text(openid, text)  # customer-service text, split if long
    mp = mini_program(settings)                  # the mini-program (小程序)
    await mp.subscribe.send(openid, template_id, {"thing1": "…"}, page=None)
    session = await mp.wxa.code2session(js_code)
    ok = await mp.wxa.msg_sec_check(openid, content)
    await client.close()

The access_token is shared by all processes through table wechat_tokens (see
wechat.api.token); calls that fail with a token error are retried once with a
fresh token.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import sessionmaker

from wechat.api.client import (
    RetryPolicy,
    Transport,
    WeChatAPIError,
    WeChatQuotaExceeded,
    WeChatUnavailable,
    mask_openid,
)
from wechat.api.custom import CustomService
from wechat.api.subscribe import SubscribeMessages
from wechat.api.token import AccessToken, AccessTokenManager
from wechat.api.wxa import MiniProgramAPI, SecCheck, Session
from wechat.config import DEFAULT_API_BASE, WeChatSettings

__all__ = [
    "AccessToken", "RetryPolicy", "SecCheck", "Session", "WeChatAPIError", "WeChatClient",
    "WeChatQuotaExceeded", "WeChatUnavailable", "mask_openid", "mini_program",
    "official_account",
]

log = logging.getLogger("wechat.api")


class WeChatClient:
    """One AppID's view of WeChat's API: custom, subscribe, wxa, and the shared token."""

    def __init__(self, appid: str, secret: str, api_base: str = DEFAULT_API_BASE, *,
                 sessions: sessionmaker | None = None, stable_token: bool = True,
                 timeout: float = 10.0, retry: RetryPolicy | None = None,
                 token_lease: float = 20.0, token_wait: float = 30.0):
        if not appid or not secret:
            raise ValueError("a WeChat client needs an AppID and an AppSecret")
        self.appid, self.secret = appid, secret
        self.transport = Transport(api_base, timeout=timeout, retry=retry)
        self.tokens = AccessTokenManager(self.transport, appid, secret, sessions=sessions,
                                         stable=stable_token, lease=token_lease, wait=token_wait)
        self.custom = CustomService(self)
        self.subscribe = SubscribeMessages(self)
        self.wxa = MiniProgramAPI(self)

    def __repr__(self) -> str:
        return f"WeChatClient(appid={self.appid!r}, api_base={self.transport.api_base!r})"

    async def call(self, method: str, path: str, *, params: dict | None = None,
                   body: dict | None = None, idempotent: bool = True) -> dict[str, Any]:
        """A call that needs no access_token (code2Session)."""
        return await self.transport.request(method, path, params=params, body=body,
                                            idempotent=idempotent)

    async def api(self, method: str, path: str, *, params: dict | None = None,
                  body: dict | None = None, idempotent: bool = True) -> dict[str, Any]:
        """A call with the access_token; on 40001/40014/42001 one refetch and one retry."""
        for attempt in (1, 2):
            token = await self.tokens.get()
            try:
                return await self.transport.request(
                    method, path, params={**(params or {}), "access_token": token.value},
                    body=body, idempotent=idempotent)
            except WeChatAPIError as exc:
                if not exc.token_error or attempt == 2:
                    raise
                log.warning("wechat %s: access_token rejected (errcode %s); refetching",
                            path, exc.errcode)
                await self.tokens.invalidate(token)
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> WeChatClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


def official_account(settings: WeChatSettings, **kwargs) -> WeChatClient:
    """The Official Account's client (WECHAT_APPID / WECHAT_SECRET)."""
    if not settings.appid or not settings.secret:
        raise ValueError("WECHAT_APPID and WECHAT_SECRET must be set for the Official Account")
    return WeChatClient(settings.appid, settings.secret, settings.api_base, **kwargs)


def mini_program(settings: WeChatSettings, **kwargs) -> WeChatClient:
    """The mini-program's client (WECHAT_MP_APPID / WECHAT_MP_SECRET)."""
    if not settings.mp_appid or not settings.mp_secret:
        raise ValueError("WECHAT_MP_APPID and WECHAT_MP_SECRET must be set for the mini-program")
    return WeChatClient(settings.mp_appid, settings.mp_secret, settings.api_base, **kwargs)
