"""The access_token of one AppID, shared by every process through table wechat_tokens.

Why so careful: each fresh fetch can invalidate the token other processes hold, and
the daily quota for fetching is small. So:

* the token is stored encrypted (bot.privacy.crypto) with the moment we stop using
  it (``expires_at``: WeChat's expiry minus a margin, so it is refreshed *before* it
  expires) and a ``generation`` that grows with every fetch;
* one process fetches at a time: it takes a lease with one atomic
  ``UPDATE … WHERE lease_until IS NULL OR lease_until < now`` (works on SQLite and
  PostgreSQL alike); the others poll the row until the new token appears or the
  lease runs out (a crashed fetcher's lease simply expires);
* when WeChat says a token is bad (40001/40014/42001) the caller invalidates it only
  if the stored generation is still the one that failed, so a token another process
  has just refreshed is never thrown away;
* the stable_token API is used (normal mode); force_refresh only when WeChat keeps
  handing back the very token it just rejected.

The row itself is wechat.api.token_store's (the module that owns wechat_tokens);
this one decides when a token is needed and talks to WeChat.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from datetime import timedelta

from sqlalchemy.orm import sessionmaker

from bot.clock import now as _now
from wechat.api.client import Transport, WeChatUnavailable
from wechat.api.token_store import AccessToken, Lease, TokenStore

__all__ = ["AccessToken", "AccessTokenManager"]

log = logging.getLogger("wechat.api.token")

REFRESH_MARGIN = 300.0  # refresh this long before WeChat's expiry (capped at 10 % of the TTL)




class AccessTokenManager:
    """get() a valid token; invalidate(token) after WeChat rejected it."""

    def __init__(self, transport: Transport, appid: str, secret: str, *,
                 sessions: sessionmaker | None = None, stable: bool = True,
                 lease: float = 20.0, wait: float = 30.0, poll: float = 0.1,
                 margin: float = REFRESH_MARGIN):
        self._transport, self.appid, self._secret = transport, appid, secret
        self._sessions = sessions
        self.stable, self.lease, self.wait, self.poll, self.margin = stable, lease, wait, poll, margin
        self.owner = f"{socket.gethostname()[:20]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._cached: AccessToken | None = None
        self._lock: asyncio.Lock | None = None
        self._store_obj: TokenStore | None = None

    def __repr__(self) -> str:
        return f"AccessTokenManager(appid={self.appid!r})"

    # -- public -----------------------------------------------------------------
    async def get(self) -> AccessToken:
        cached = self._cached
        if cached is not None and cached.fresh():
            return cached
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one coroutine per process talks to the table
            cached = self._cached
            if cached is not None and cached.fresh():
                return cached
            token = await self._obtain()
            self._cached = token
            return token

    async def invalidate(self, token: AccessToken) -> bool:
        """WeChat rejected ``token``: drop it unless it has been replaced meanwhile."""
        if self._cached is not None and self._cached.generation == token.generation:
            self._cached = None
        dropped = await asyncio.to_thread(self._invalidate_row, token.generation)
        log.info("access_token of %s generation %d rejected by WeChat; %s", self.appid,
                 token.generation, "invalidated" if dropped else "already replaced")
        return dropped

    # -- the shared row (wechat.api.token_store owns the table) ------------------
    def _db(self) -> TokenStore:
        if self._store_obj is None:
            self._store_obj = TokenStore(self.appid, self._sessions)
        return self._store_obj

    async def _obtain(self) -> AccessToken:
        deadline = time.monotonic() + self.wait
        waited = False
        while True:
            found = await asyncio.to_thread(self._db().read_or_lease, self.owner, self.lease)
            if isinstance(found, AccessToken):
                if waited:
                    log.debug("access_token of %s fetched by another process", self.appid)
                return found
            if isinstance(found, Lease):
                return await self._fetch_and_store(found)
            if time.monotonic() > deadline:
                raise WeChatUnavailable("timed out waiting for another process to fetch the "
                                        "access_token", "cgi-bin/stable_token")
            waited = True
            await asyncio.sleep(self.poll * random.uniform(0.5, 1.5))

    def _invalidate_row(self, generation: int) -> bool:
        return self._db().invalidate(generation)

    # -- WeChat -------------------------------------------------------------------
    async def _fetch_and_store(self, lease: Lease) -> AccessToken:
        try:
            value, expires_in = await self._fetch(force=False)
            if lease.invalidated and value == lease.previous:
                # WeChat still hands out the token it just rejected: force a new one.
                log.warning("stable access_token of %s repeated after rejection; force refresh",
                            self.appid)
                value, expires_in = await self._fetch(force=True)
        except BaseException:
            await asyncio.to_thread(self._db().release, self.owner)
            raise
        token = await asyncio.to_thread(self._db().store, self.owner, value, expires_in, self.margin)
        if token is None:  # our lease ran out meanwhile; use it, but do not publish it
            log.warning("access_token lease of %s expired during the fetch", self.appid)
            now = _now()
            return AccessToken(value, -1, now + timedelta(seconds=max(1.0, expires_in * 0.9)))
        log.info("access_token of %s fetched (generation %d, valid %ss)", self.appid,
                 token.generation, expires_in)
        return token

    async def _fetch(self, *, force: bool) -> tuple[str, int]:
        if self.stable:
            data = await self._transport.request(
                "POST", "cgi-bin/stable_token",
                body={"grant_type": "client_credential", "appid": self.appid,
                      "secret": self._secret, "force_refresh": force})
        else:
            data = await self._transport.request(
                "GET", "cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.appid,
                        "secret": self._secret})
        value, expires_in = data.get("access_token"), int(data.get("expires_in") or 7200)
        if not value:
            raise WeChatUnavailable("token response without access_token", "cgi-bin/stable_token",
                                    ambiguous=False, errcode=-1)
        return str(value), expires_in
