"""Mini-program subscribe messages (订阅消息): POST cgi-bin/message/subscribe/send.

Each one-time grant (wx.requestSubscribeMessage) allows one message; the grants are
counted in table mp_subscriptions by the caller (wechat.delivery). Template values
have documented per-type limits; a value over the limit makes WeChat refuse the whole
message (errcode 47003), so values are fitted to their key's type before sending.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from wechat.api.client import mask_openid

if TYPE_CHECKING:  # pragma: no cover
    from wechat.api import WeChatClient

log = logging.getLogger("wechat.api.subscribe")

#: max characters per template key type (subscribeMessage.send documentation)
VALUE_LIMITS = {
    "thing": 20,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "phrase": 5,
    "name": 10,
    "phone_number": 17,
    "car_number": 8,
}
_KEY = re.compile(r"^([a-z_]+?)\d+$")


def key_type(key: str) -> str:
    m = _KEY.match(key)
    return m.group(1) if m else key


def fit_value(key: str, value: object) -> str:
    """The value as WeChat accepts it for this key (cut with "…" when too long)."""
    text = " ".join(str(value).split())
    limit = VALUE_LIMITS.get(key_type(key))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…" if key_type(key) == "thing" else text[:limit]
    return text


def template_data(data: dict) -> dict[str, dict[str, str]]:
    """Accepts {"thing1": "…"} or {"thing1": {"value": "…"}}; returns WeChat's form."""
    out = {}
    for key, value in data.items():
        raw = value.get("value", "") if isinstance(value, dict) else value
        out[key] = {"value": fit_value(key, raw)}
    return out


class SubscribeMessages:
    def __init__(self, client: WeChatClient):
        self._client = client

    async def send(self, openid: str, template_id: str, data: dict, page: str | None = None,
                   *, state: str | None = None, lang: str = "zh_CN") -> None:
        """Send one subscribe message; ``state`` is miniprogram_state
        (developer / trial / formal) for the page the message opens."""
        body: dict = {"touser": openid, "template_id": template_id,
                      "data": template_data(data), "lang": lang}
        if page:
            body["page"] = page
        if state:
            body["miniprogram_state"] = state
        await self._client.api("POST", "cgi-bin/message/subscribe/send", body=body,
                               idempotent=False)
        log.info("subscribe message to %s sent", mask_openid(openid))
