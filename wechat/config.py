"""WeChat settings, read from the environment (names fixed by the public contract)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_API_BASE = "https://api.weixin.qq.com"


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


@dataclass(frozen=True)
class WeChatSettings:
    appid: str = ""
    secret: str = ""
    token: str = ""
    aes_key: str = ""
    aes_key_previous: str = ""
    mp_appid: str = ""
    mp_secret: str = ""
    api_base: str = DEFAULT_API_BASE
    # WeChat gives up after 5 s; answer passively only when the dialogue is done sooner.
    reply_budget: float = 4.0
    # WeChat signs pushes but defines no freshness window; we refuse older/newer ones.
    max_clock_skew: int = 300
    mp_templates: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> WeChatSettings:
        templates = {}
        status_template = _env("WECHAT_MP_STATUS_TEMPLATE")
        if status_template:
            templates["status"] = status_template
        return cls(
            appid=_env("WECHAT_APPID"),
            secret=_env("WECHAT_SECRET"),
            token=_env("WECHAT_TOKEN"),
            aes_key=_env("WECHAT_AES_KEY"),
            aes_key_previous=_env("WECHAT_AES_KEY_PREVIOUS"),
            mp_appid=_env("WECHAT_MP_APPID"),
            mp_secret=_env("WECHAT_MP_SECRET"),
            api_base=(_env("WECHAT_API_BASE") or DEFAULT_API_BASE).rstrip("/"),
            reply_budget=float(_env("WECHAT_REPLY_BUDGET") or 4.0),
            max_clock_skew=int(_env("WECHAT_MAX_CLOCK_SKEW") or 300),
            mp_templates=templates,
        )

    @property
    def official_account(self) -> bool:
        """True when the Official Account push URL can verify what it receives."""
        return bool(self.token)

    @property
    def aes_keys(self) -> list[str]:
        """Keys to try when decrypting, newest first (two during a rotation)."""
        return [k for k in (self.aes_key, self.aes_key_previous) if k]
