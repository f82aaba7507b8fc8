"""HTTP transport to WeChat's API servers: errors, bounded retries with jittered
exponential back-off, and logs that never carry a token, secret or session_key.

WeChat answers HTTP 200 with ``{"errcode": …, "errmsg": …}`` for most failures, so
errors are read from the JSON body. Only transient failures are retried here:
errcode -1 (系统繁忙), timeouts, dropped connections and HTTP 5xx. Client errors
(40xxx, quota 45009, window 45015 …) are raised at once; the token-expired path
(40001/40014/42001) is handled one level up, in :class:`wechat.api.WeChatClient`.

Calls that are not idempotent (a customer-service or subscribe send, code2Session
with its one-time code) are never retried after the request may have reached WeChat
(a read timeout or a connection dropped mid-flight): WeChat offers no idempotency
key, so such a failure is raised as ``WeChatUnavailable(ambiguous=True)`` and the
caller decides (the outbox records it instead of risking a duplicate).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from wechatpy.constants import WeChatErrorCode as Code

log = logging.getLogger("wechat.api")

#: errcodes that mean "this access_token is no good": refetch and retry once.
TOKEN_ERRORS = frozenset({Code.INVALID_CREDENTIAL, Code.INVALID_ACCESS_TOKEN,
                          Code.EXPIRED_ACCESS_TOKEN})
#: errcodes worth retrying after a pause.
TRANSIENT_ERRORS = frozenset({Code.SYSTEM_BUSY})
QUOTA_EXCEEDED = int(Code.OUT_OF_API_FREQ_LIMIT)  # 45009 reach max api daily quota limit


def mask_openid(openid: str | None) -> str:
    """An openid as it may appear in logs: the first 6 characters only."""
    return f"{openid[:6]}…" if openid else "-"


class WeChatAPIError(Exception):
    """WeChat refused a call: ``errcode`` and ``errmsg`` as WeChat sent them."""

    def __init__(self, errcode: int, errmsg: str, path: str = "", *, parts_sent: int = 0):
        self.errcode, self.errmsg, self.path = int(errcode), errmsg, path
        #: for multi-part customer-service texts: how many parts WeChat accepted first
        self.parts_sent = parts_sent
        super().__init__(f"{path or 'wechat'}: errcode {self.errcode}: {errmsg}")

    @property
    def transient(self) -> bool:
        return self.errcode in TRANSIENT_ERRORS

    @property
    def token_error(self) -> bool:
        return self.errcode in TOKEN_ERRORS

    #: True when WeChat may have acted on the request although we saw a failure.
    ambiguous: bool = False


class WeChatUnavailable(WeChatAPIError):
    """WeChat could not be reached or kept failing (network, timeout, 5xx, -1)."""

    def __init__(self, errmsg: str, path: str = "", *, ambiguous: bool = False, errcode: int = -1):
        super().__init__(errcode, errmsg, path)
        self.ambiguous = ambiguous


class WeChatQuotaExceeded(WeChatAPIError):
    """errcode 45009: the app's daily quota for this API is used up (resets at
    midnight Beijing time, or through WeChat's clear_quota API). Not retried."""

    def __init__(self, errmsg: str, path: str = ""):
        super().__init__(QUOTA_EXCEEDED, errmsg, path)

    def __str__(self) -> str:
        return (f"{self.path}: daily API quota exhausted (errcode 45009: {self.errmsg}); "
                "calls fail until the quota resets at 00:00 Beijing time")


def error_from(data: dict, path: str) -> WeChatAPIError:
    errcode, errmsg = int(data.get("errcode", -1)), str(data.get("errmsg", ""))
    if errcode == QUOTA_EXCEEDED:
        return WeChatQuotaExceeded(errmsg, path)
    return WeChatAPIError(errcode, errmsg, path)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential back-off with jitter ("equal jitter": half fixed, half random)."""

    attempts: int = 4
    base: float = 0.2
    cap: float = 3.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class _Retry(Exception):
    def __init__(self, reason: str, ambiguous: bool):
        super().__init__(reason)
        self.reason, self.ambiguous = reason, ambiguous


class Transport:
    """One aiohttp session to WeChat's API base URL (created lazily in the running loop)."""

    def __init__(self, api_base: str, *, timeout: float = 10.0, retry: RetryPolicy | None = None):
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout, connect=min(5.0, self.timeout)))
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def request(self, method: str, path: str, *, params: dict | None = None,
                      body: dict | None = None, idempotent: bool = True) -> dict[str, Any]:
        """One API call with retries; returns the JSON body when errcode is 0 (or absent)."""
        path = path.lstrip("/")
        url = f"{self.api_base}/{path}"
        data = None
        headers = {}
        if body is not None:
            # WeChat rejects \\uXXXX escapes in some APIs (errcode 40033): send raw UTF-8.
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        attempts = max(1, self.retry.attempts)
        for attempt in range(attempts):
            started = time.monotonic()
            try:
                result = await self._once(method, url, path, params, data, headers)
            except _Retry as exc:
                if exc.ambiguous and not idempotent:
                    log.warning("wechat %s: %s; not retried (the request may have been processed)",
                                path, exc.reason)
                    raise WeChatUnavailable(exc.reason, path, ambiguous=True) from None
                if attempt + 1 >= attempts:
                    log.warning("wechat %s: %s; giving up after %d attempts", path, exc.reason, attempts)
                    raise WeChatUnavailable(exc.reason, path, ambiguous=exc.ambiguous) from None
                pause = self.retry.delay(attempt)
                log.warning("wechat %s: %s; retry %d/%d in %.2fs", path, exc.reason,
                            attempt + 1, attempts - 1, pause)
                await asyncio.sleep(pause)
                continue
            errcode = int(result.get("errcode", 0) or 0)
            elapsed = (time.monotonic() - started) * 1000
            if errcode == 0:
                log.debug("wechat %s ok (%.0f ms)", path, elapsed)
                return result
            error = error_from(result, path)
            if error.transient and attempt + 1 < attempts:
                pause = self.retry.delay(attempt)
                log.warning("wechat %s: errcode %s (%s); retry %d/%d in %.2fs", path, errcode,
                            error.errmsg, attempt + 1, attempts - 1, pause)
                await asyncio.sleep(pause)
                continue
            log.info("wechat %s: errcode %s (%s)", path, errcode, error.errmsg)
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, method: str, url: str, path: str, params: dict | None,
                    data: bytes | None, headers: dict) -> dict:
        # Exceptions are summarised by type only: aiohttp's messages may contain the URL,
        # and the URL carries access_token / secret / js_code.
        try:
            async with self._http().request(method, url, params=params, data=data,
                                            headers=headers) as resp:
                if resp.status >= 500:
                    raise _Retry(f"HTTP {resp.status}", ambiguous=False)
                raw = await resp.read()
                status = resp.status
        except _Retry:
            raise
        except aiohttp.ClientConnectorError as exc:
            raise _Retry(f"cannot connect ({type(exc).__name__})", ambiguous=False) from None
        except aiohttp.ServerTimeoutError as exc:
            connect = str(exc).startswith("Connection timeout")
            raise _Retry("connect timeout" if connect else "read timeout",
                         ambiguous=not connect) from None
        except asyncio.TimeoutError:
            raise _Retry("timeout", ambiguous=True) from None
        except aiohttp.ClientError as exc:
            raise _Retry(f"connection failed ({type(exc).__name__})", ambiguous=True) from None
        try:
            result = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _Retry(f"HTTP {status} with a body that is not JSON", ambiguous=True) from None
        if not isinstance(result, dict):
            raise _Retry(f"HTTP {status} with unexpected JSON", ambiguous=True)
        if status >= 400 and "errcode" not in result:
            return {"errcode": status, "errmsg": f"HTTP {status}"}
        return result
