"""Delivery of the notification outbox (bot.applications.outbox) through WeChat.

Recipients:
* an Official Account openid → a customer-service text, only while the citizen's
  48 h window is open (their last message: max(wechat_inbound.received_at));
  otherwise the message waits (re-checked every ``DEFER``; ``wake(openid)`` makes it
  due at once when the citizen writes again) and is dropped after ``GIVE_UP``;
* ``mp:<openid>`` → a mini-program subscribe message when the citizen has a grant
  left for the status template (mp_subscriptions.remaining > 0, decremented),
  otherwise marked ``delivered_via="none"`` (the mini-program shows the status);
* anything else (REST users) → ``delivered_via="none"``.

At most once, even with several senders and crashes:
* a sender *claims* a row before touching WeChat: one atomic UPDATE sets
  ``claimed_until`` (a lease) where the row is unsent and unclaimed or its claim has
  expired. The exact ``claimed_until`` value is the claim's fencing token: the row is
  finished only by ``UPDATE … WHERE claimed_until = <mine>``.
* a sender that dies before WeChat accepted the message leaves a claim that simply
  expires; another sender then delivers the message, once.
* the one unavoidable window: a sender that dies after WeChat accepted the message
  but before its ``mark sent`` UPDATE committed. The row is marked sent by a single
  UPDATE right after WeChat's answer (nothing else in between), so the window is
  that one round-trip to the database; a crash exactly there means the message is
  sent again after the lease. Likewise an answer lost on the wire (read timeout
  after the request went out) is *not* retried: the row is closed as
  ``delivered_via="uncertain"`` instead, preferring a rare loss to a duplicate.
* a lease (default 120 s) is longer than one delivery can take (timeout 10 s ×
  4 attempts + back-off), and a sender does not start a send on a claim that has
  less than ``SAFE_REMAINDER`` left.

Run as an asyncio task in the backend (``cleanup_ctx``) and as
``python -m wechat.delivery [--once]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from aiohttp import web
from sqlalchemy.orm import sessionmaker

from bot.applications.outbox import Claim as OutboxClaim
from bot.applications.outbox import Outbox
from bot.clock import now as _now
from bot.senders import MP_PREFIX, OPENID
from wechat.api import WeChatAPIError, WeChatClient, mask_openid, mini_program, official_account
from wechat.config import WeChatSettings
from wechat.inbox import Inbox
from wechat.subscriptions import Subscriptions

log = logging.getLogger("wechat.delivery")

CS_WINDOW = timedelta(hours=48)
DEFER = timedelta(minutes=10)
GIVE_UP = timedelta(days=30)
MAX_BACKOFF = timedelta(hours=1)
SAFE_REMAINDER = timedelta(seconds=45)
#: the recipient will not get it (unknown/blocked openid, unsubscribed, refused …)
PERMANENT = frozenset({40003, 43004, 43019, 43101})
#: WeChat's window or per-window count is used up: wait for the citizen to write
WINDOW_CLOSED = frozenset({45015, 45047})
#: default mapping of status-template keys to notification fields (env
#: WECHAT_MP_STATUS_FIELDS="character_string1=number,thing2=text,time3=time" overrides)
DEFAULT_STATUS_FIELDS = {"character_string1": "number", "thing2": "text", "time3": "time"}
BEIJING = timezone(timedelta(hours=8))




def recipient_kind(recipient: str) -> str:
    """"oa" (Official Account openid), "mp" (mini-program) or "none"."""
    if recipient.startswith(MP_PREFIX) and OPENID.match(recipient[len(MP_PREFIX):]):
        return "mp"
    if OPENID.match(recipient):
        return "oa"
    return "none"


def status_fields() -> dict[str, str]:
    spec = os.environ.get("WECHAT_MP_STATUS_FIELDS", "").strip()
    if not spec:
        return dict(DEFAULT_STATUS_FIELDS)
    pairs = (item.split("=", 1) for item in spec.split(",") if "=" in item)
    return {key.strip(): field.strip() for key, field in pairs}


@dataclass(frozen=True)
class Claim(OutboxClaim):
    kind: str = "none"  # oa | mp | none (recipient_kind)


def wake(openid: str, sessions: sessionmaker | None = None) -> int:
    """The citizen just wrote: messages waiting for their window become due now.

    Sync (call through asyncio.to_thread); for the Official Account channel.
    """
    return Outbox(sessions or _default_sessions()).wake(openid)


def _default_sessions() -> sessionmaker:
    from bot.db import session_factory

    return session_factory()


class Delivery:
    """Delivers due outbox rows; several instances (processes) may run at once."""

    def __init__(self, settings: WeChatSettings | None = None, *,
                 sessions: sessionmaker | None = None, official: WeChatClient | None = None,
                 mini: WeChatClient | None = None, lease: float = 120.0, batch: int = 20):
        self.settings = settings or WeChatSettings.from_env()
        self._sessions = sessions or _default_sessions()
        self.lease = timedelta(seconds=lease)
        self.safe_remainder = min(SAFE_REMAINDER, self.lease / 2)
        self.batch = batch
        self.outbox = Outbox(self._sessions)
        self.subscriptions = Subscriptions(self._sessions)
        s = self.settings
        self.official = official or (official_account(s, sessions=self._sessions)
                                     if s.appid and s.secret else None)
        self.mini = mini or (mini_program(s, sessions=self._sessions)
                             if s.mp_appid and s.mp_secret else None)

    async def close(self) -> None:
        for client in (self.official, self.mini):
            if client is not None:
                await client.close()

    # -- the loop ---------------------------------------------------------------
    async def run_once(self, max_rounds: int = 50) -> Counter:
        """Deliver everything due now; returns a count per outcome."""
        outcomes: Counter = Counter()
        for _ in range(max_rounds):
            claims = await asyncio.to_thread(self.claim)
            if not claims:
                break
            for claim in claims:
                try:
                    outcome = await self.deliver(claim)
                except Exception as exc:  # noqa: BLE001 - one bad row must not stop the rest
                    log.exception("outbox %s: unexpected failure", claim.id)
                    await asyncio.to_thread(self._fail, claim, type(exc).__name__)
                    outcome = "failed"
                outcomes[outcome] += 1
        if outcomes:
            log.info("outbox delivery: %s", dict(outcomes))
        return outcomes

    async def run_forever(self, interval: float = 2.0) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - e.g. the database restarting; try again
                log.exception("outbox delivery round failed")
            await asyncio.sleep(interval * random.uniform(0.8, 1.2))

    # -- claims (the outbox service owns the table) ----------------------------------
    def claim(self, now: datetime | None = None) -> list[Claim]:
        """Claim up to ``batch`` due rows this sender can act on (sync: runs in a thread):
        a sender without the mini-program keeps its hands off mini-program rows, one
        without the Official Account off follower rows."""
        claims = self.outbox.claim(
            self.lease, self.batch, prefix=MP_PREFIX, include_prefixed=self.mini is not None,
            accept=lambda r: recipient_kind(r) != "oa" or self.official is not None, now=now)
        return [Claim(c.id, c.recipient, c.payload, c.created_at, c.attempts, c.until,
                      kind=recipient_kind(c.recipient)) for c in claims]

    def _finish(self, claim: Claim, via: str, error: str | None = None) -> bool:
        """Mark sent (the one UPDATE right after WeChat accepted it)."""
        done = self.outbox.finish(claim, via, error)
        if not done:
            log.error("outbox %s: claim lost before it was marked %s (lease too short?)",
                      claim.id, via)
        return done

    def _release(self, claim: Claim, next_attempt: datetime, error: str, count: bool) -> None:
        self.outbox.release(claim, next_attempt, error, count)

    def _fail(self, claim: Claim, error: str) -> None:
        """Retry later with the outbox's back-off (30 s, 1 min, 2 min … 1 h)."""
        delay = min(MAX_BACKOFF, timedelta(seconds=30 * 2 ** claim.attempts))
        self._release(claim, _now() + delay, error, count=True)

    def _defer(self, claim: Claim, reason: str) -> None:
        self._release(claim, _now() + DEFER, reason, count=False)

    # -- one message ----------------------------------------------------------------
    async def deliver(self, claim: Claim) -> str:
        if _now() > claim.until - self.safe_remainder:  # too little lease left to start a send
            await asyncio.to_thread(self._release, claim, _now(), "claim too old to send safely",
                                    False)
            return "released"
        if claim.kind == "oa":
            return await self._deliver_cs(claim)
        if claim.kind == "mp":
            return await self._deliver_subscribe(claim)
        await asyncio.to_thread(self._finish, claim, "none")
        return "none"

    def _last_inbound(self, openid: str) -> datetime | None:
        return Inbox(self._sessions).last_message_at(openid)

    async def _deliver_cs(self, claim: Claim) -> str:
        openid = claim.recipient
        now = _now()
        last = await asyncio.to_thread(self._last_inbound, openid)
        if last is None or now - last > CS_WINDOW:
            if claim.created_at and now - claim.created_at > GIVE_UP:
                await asyncio.to_thread(self._finish, claim, "expired",
                                        "the citizen did not write within 30 days")
                return "expired"
            await asyncio.to_thread(self._defer, claim, "outside the 48 h customer-service window")
            return "deferred"
        try:
            await self.official.custom.send_text(openid, str(claim.payload.get("text", "")))
        except WeChatAPIError as exc:
            return await self._after_error(claim, exc, "wechat_cs")
        await asyncio.to_thread(self._finish, claim, "wechat_cs")
        log.info("outbox %s: customer-service message to %s", claim.id, mask_openid(openid))
        return "sent"

    def _take_grant(self, openid: str, template_id: str, delta: int) -> bool:
        if delta < 0:
            return self.subscriptions.take(openid, template_id)
        return self.subscriptions.give_back(openid, template_id)

    def _template_data(self, claim: Claim) -> dict:
        payload = claim.payload
        when = (claim.created_at or _now()).astimezone(BEIJING).strftime("%Y年%m月%d日 %H:%M")
        values = {**payload, "time": when, "text": payload.get("text", "")}
        return {key: str(values.get(field, "") or "-") for key, field in status_fields().items()}

    async def _deliver_subscribe(self, claim: Claim) -> str:
        openid = claim.recipient[len(MP_PREFIX):]
        template = self.settings.mp_templates.get("status")
        if not template:
            await asyncio.to_thread(self._finish, claim, "none", "no status template configured")
            return "none"
        if not await asyncio.to_thread(self._take_grant, openid, template, -1):
            await asyncio.to_thread(self._finish, claim, "none")
            return "none"
        page = claim.payload.get("page") or os.environ.get("WECHAT_MP_STATUS_PAGE") or None
        if page and "{number}" in page:
            page = page.replace("{number}", str(claim.payload.get("number", "")))
        try:
            await self.mini.subscribe.send(openid, template, self._template_data(claim), page=page)
        except WeChatAPIError as exc:
            if exc.errcode == 43101:  # WeChat says the grant is gone: it is not ours to refund
                await asyncio.to_thread(self._finish, claim, "none", str(exc))
                return "none"
            if not exc.ambiguous:  # WeChat did not use the grant
                await asyncio.to_thread(self._take_grant, openid, template, +1)
            return await self._after_error(claim, exc, "mp_subscribe")
        await asyncio.to_thread(self._finish, claim, "mp_subscribe")
        log.info("outbox %s: subscribe message to %s", claim.id, mask_openid(openid))
        return "sent"

    async def _after_error(self, claim: Claim, exc: WeChatAPIError, via: str) -> str:
        error = f"errcode {exc.errcode}: {exc.errmsg}"[:500]
        if exc.parts_sent:  # part of the text reached the citizen: never send it again
            await asyncio.to_thread(self._finish, claim, via, f"partly sent: {error}")
            return "sent"
        if exc.ambiguous:
            await asyncio.to_thread(self._finish, claim, "uncertain", error)
            log.warning("outbox %s: WeChat's answer was lost; not resent (%s)", claim.id, error)
            return "uncertain"
        if exc.errcode in WINDOW_CLOSED:
            await asyncio.to_thread(self._defer, claim, error)
            return "deferred"
        if exc.errcode in PERMANENT:
            await asyncio.to_thread(self._finish, claim, "none", error)
            return "none"
        await asyncio.to_thread(self._fail, claim, error)
        log.warning("outbox %s: %s; will retry", claim.id, error)
        return "failed"


async def cleanup_ctx(app: web.Application):
    """aiohttp cleanup context for the backend: ``app.cleanup_ctx.append(cleanup_ctx)``.

    Runs the delivery loop while the backend runs, when any WeChat app is configured.
    """
    settings = WeChatSettings.from_env()
    task = delivery = None
    if (settings.appid and settings.secret) or (settings.mp_appid and settings.mp_secret):
        delivery = Delivery(settings)
        task = asyncio.create_task(delivery.run_forever(), name="wechat-outbox-delivery")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await delivery.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wechat.delivery",
                                     description="Deliver the notification outbox via WeChat.")
    parser.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--lease", type=float, default=120.0, help="claim lease in seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def run() -> None:
        delivery = Delivery(lease=args.lease)
        try:
            if args.once:
                print(json.dumps(dict(await delivery.run_once())), flush=True)
            else:
                await delivery.run_forever(args.interval)
        finally:
            await delivery.close()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
