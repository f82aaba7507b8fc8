"""Mini-program server APIs: code2Session (login) and msgSecCheck v2 (content safety)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wechat.api.client import WeChatAPIError, mask_openid

if TYPE_CHECKING:  # pragma: no cover
    from wechat.api import WeChatClient

log = logging.getLogger("wechat.api.wxa")

#: msgSecCheck v2 scenes: 1 资料, 2 评论, 3 论坛, 4 社交日志
SCENE_PROFILE, SCENE_COMMENT, SCENE_FORUM, SCENE_SOCIAL_LOG = 1, 2, 3, 4


@dataclass(frozen=True)
class Session:
    """What code2Session returns. session_key must never leave the server (nor a log)."""

    openid: str
    session_key: str = field(repr=False)
    unionid: str | None = None


@dataclass(frozen=True)
class SecCheck:
    suggest: str  # pass | review | risky
    label: int  # 100 normal; 10001 ad, 20001 politics, 20002 porn, 20003 abuse, 20006 crime …
    trace_id: str = ""

    @property
    def passed(self) -> bool:
        return self.suggest == "pass"


class MiniProgramAPI:
    def __init__(self, client: WeChatClient):
        self._client = client

    async def code2session(self, js_code: str) -> Session:
        """Exchange a wx.login code (single use, 5 minutes) for openid + session_key.

        Raises WeChatAPIError 40029 (invalid code) or 40163 (code already used). Not
        retried after the request may have reached WeChat: the code is single-use.
        """
        data = await self._client.call(
            "GET", "sns/jscode2session", idempotent=False,
            params={"appid": self._client.appid, "secret": self._client.secret,
                    "js_code": js_code, "grant_type": "authorization_code"})
        openid, session_key = data.get("openid"), data.get("session_key")
        if not openid or not session_key:
            raise WeChatAPIError(-1, "code2Session answered without openid/session_key",
                                 "sns/jscode2session")
        log.info("code2Session ok for %s", mask_openid(openid))
        return Session(openid, session_key, data.get("unionid"))

    async def check_text(self, openid: str, content: str, *, scene: int = SCENE_COMMENT,
                         title: str | None = None) -> SecCheck:
        """msgSecCheck v2; the openid must have opened the mini-program in the last 2 h."""
        body: dict = {"content": content, "version": 2, "scene": scene, "openid": openid}
        if title:
            body["title"] = title
        data = await self._client.api("POST", "wxa/msg_sec_check", body=body)
        result = data.get("result") or {}
        check = SecCheck(str(result.get("suggest", "review")), int(result.get("label", 0) or 0),
                         str(data.get("trace_id", "")))
        if not check.passed:
            log.info("msgSecCheck for %s: %s (label %s)", mask_openid(openid), check.suggest,
                     check.label)
        return check

    async def msg_sec_check(self, openid: str, content: str, *, scene: int = SCENE_COMMENT) -> bool:
        """True when WeChat judges the text fine ("pass"); "review" and "risky" are False."""
        return (await self.check_text(openid, content, scene=scene)).passed
