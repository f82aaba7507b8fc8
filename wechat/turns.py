"""The Official Account's turn machinery: one citizen at a time in the order sent,
the passive-reply-or-customer-service race against WeChat's 5 s, lease renewal
while a turn runs, and the sweep that finishes turns of crashed processes.

WeChat waits 5 s for the HTTP answer, then re-sends the byte-identical request
(up to three times). Every delivery of one message maps to one row in
wechat_inbound (wechat.inbox, keyed by openid + MsgId), and only the delivery that
claims the row runs the dialogue:

* the answer is ready within `budget` → it is the passive reply (state replied);
* it is not → "success" now, and the answer goes by customer-service message when
  ready (async → done);
* a retry while the first delivery is still working waits for the same answer
  (passive if it comes in time, else "success");
* a retry of a message answered passively before the retry came means WeChat did
  not show that reply: it gets the stored reply again, and the answer is also sent
  once by customer-service message;
* a stored answer is only ever given to the openid it was made for.

The channel (channels.wechat) verifies and parses; it gives this module a `Push`
and three callables: `prepare(push)` → what Rasa is sent (run in the citizen's
turn, so a numbered choice refers to the previous answer), `dialogue(openid,
request, key)` → the rendered answer, `deliver(openid, text)` → customer-service
send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from wechat.inbox import ASYNC, DONE, FAILED, REPLIED, Claim, Entry, Inbox
from wechat.replies import Rendered

logger = logging.getLogger("wechat.turns")

SWEEP_EVERY = 10.0


def short(openid: str) -> str:
    """An openid as it may appear in logs."""
    return f"{openid[:6]}…"


@dataclass
class Push:
    """An authenticated, parsed push: what the turn machinery needs of it."""

    openid: str
    key: str  # wechat_inbound key (openid + MsgId, or openid + CreateTime + event)
    started: float  # time.monotonic() when the request arrived
    account: str = ""  # our Official Account (ToUserName), the passive reply's sender
    static: Rendered | None = None  # answered without a dialogue
    text: str | None = None  # the citizen's words (before vaulting)
    payload: str | None = None  # a trusted intent payload (menu click)
    request: dict | None = None  # what Rasa was sent (kept with the reply for recovery)
    # run in the claim's transaction; may raise to refuse the push (replay check)
    guard: Callable[[Any], None] | None = field(default=None, repr=False)
    outcome: asyncio.Future | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to WeChat: the passive reply's text, or None for "success"."""

    text: str | None = None


class Line:
    """Per-openid queue: a turn starts when every earlier turn of that citizen has left.

    A place is taken synchronously as soon as the push is authenticated, so the order is
    the order WeChat delivered the messages (asyncio.Lock would order by whoever reached
    acquire() first after the database calls)."""

    def __init__(self) -> None:
        self._lines: dict[str, deque[asyncio.Future]] = {}

    def enter(self, openid: str) -> asyncio.Future:
        place: asyncio.Future = asyncio.get_running_loop().create_future()
        line = self._lines.setdefault(openid, deque())
        line.append(place)
        if len(line) == 1:
            place.set_result(None)
        return place

    def leave(self, openid: str, place: asyncio.Future) -> None:
        line = self._lines.get(openid)
        if not line or place not in line:
            return
        was_first = line[0] is place
        line.remove(place)
        if not line:
            del self._lines[openid]
        elif was_first and not line[0].done():
            line[0].set_result(None)


class Turns:
    def __init__(self, inbox: Inbox, budget: float, *,
                 prepare: Callable[[Push], dict],
                 dialogue: Callable[[str, dict, str], Awaitable[Rendered]],
                 deliver: Callable[[str, str], Awaitable[bool]],
                 on_message: Callable[[str], Any] | None = None,
                 apology: str = ""):
        self.inbox, self.budget = inbox, budget
        self._prepare, self._dialogue, self._deliver = prepare, dialogue, deliver
        self._on_message, self._apology = on_message, apology
        self._line = Line()
        self._tasks: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None

    # -- one push ------------------------------------------------------------------

    def _deadline(self, push: Push) -> float:
        return push.started + self.budget

    async def handle(self, push: Push) -> Answer:
        """Claim the push (or find the delivery it repeats) and answer it in time."""
        self.start_sweeper()
        place = self._line.enter(push.openid)  # before any await: arrival order
        try:
            claim: Claim = await asyncio.to_thread(self.inbox.claim, push.key, push.openid,
                                                   guard=push.guard)
        except BaseException:  # refused by the guard, or the database is down
            self._line.leave(push.openid, place)
            raise
        if not claim.acquired:
            self._line.leave(push.openid, place)
            return await self._answer_retry(push, claim.entry)
        if claim.recovered:
            logger.info("WeChat: taking over %s of %s after a crash", push.key[:24],
                        short(push.openid))
        elif self._on_message is not None:  # the citizen just wrote
            self._spawn(asyncio.to_thread(self._on_message, push.openid))
        push.outcome = asyncio.get_running_loop().create_future()
        self._spawn(self._turn(push, place, claim.entry))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(push.outcome),
                                   max(0.0, self._deadline(push) - time.monotonic()))
        if push.outcome.done():
            mode, text = push.outcome.result()
            return Answer(text if mode == "passive" else None)
        # Out of time: from now on the answer goes by customer-service message.
        if await asyncio.to_thread(self.inbox.to_async, push.key):
            return Answer(None)
        entry = await asyncio.to_thread(self.inbox.get, push.key)  # the turn just finished
        if entry is not None and entry.state == REPLIED and entry.openid == push.openid:
            return Answer(entry.reply.get("text"))
        return Answer(None)

    async def _answer_retry(self, push: Push, entry: Entry) -> Answer:
        """Another delivery of a message already claimed: never a second turn."""
        if entry.openid != push.openid:  # cannot happen with openid in the key; never leak
            logger.error("WeChat: %s claimed by another openid", push.key[:24])
            return Answer(None)
        if entry.state == REPLIED:
            # Answered passively before this retry came: WeChat did not show it. The
            # stored reply again, and once by customer-service message too.
            text = entry.reply.get("text") or ""
            if text and await asyncio.to_thread(self.inbox.take_resend, push.key, entry.reply):
                self._spawn(self._resend(push.openid, push.key, text))
            return Answer(text or None)
        if entry.reply.get("passive"):  # a later retry of the same: the same reply
            return Answer(entry.reply.get("text") or None)
        deadline = self._deadline(push)
        while True:
            if entry.state == REPLIED:
                return Answer(entry.reply.get("text") or None)
            if entry.state in (ASYNC, DONE, FAILED):
                return Answer(None)
            if time.monotonic() >= deadline:
                if await asyncio.to_thread(self.inbox.to_async, push.key):
                    return Answer(None)
            else:
                await asyncio.sleep(0.05)
            fresh = await asyncio.to_thread(self.inbox.get, push.key)
            if fresh is None:
                return Answer(None)
            entry = fresh

    async def _resend(self, openid: str, key: str, text: str) -> None:
        if not await self._deliver(openid, text):
            await asyncio.to_thread(self.inbox.resend_failed, key)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _turn(self, push: Push, place: asyncio.Future, entry: Entry) -> None:
        """One citizen turn, run to the end even when the HTTP answer was "success"."""
        renewer = asyncio.ensure_future(self._renew(push.key))
        try:
            await place
            rendered = await self._answer(push, entry)
            await self._finish(push, rendered)
        except Exception:  # noqa: BLE001 - a turn must always end in a final state
            logger.exception("WeChat turn failed for %s", short(push.openid))
            with contextlib.suppress(Exception):
                await self._finish(push, Rendered(self._apology))
        finally:
            renewer.cancel()
            self._line.leave(push.openid, place)
            if push.outcome is not None and not push.outcome.done():
                push.outcome.set_result(("async", None))

    async def _renew(self, key: str) -> None:
        while True:
            await asyncio.sleep(self.inbox.lease.total_seconds() / 3)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.inbox.renew, key)

    async def _answer(self, push: Push, entry: Entry) -> Rendered:
        if push.static is not None:
            return push.static
        request = entry.request
        if not request:
            request = await asyncio.to_thread(self._prepare, push)
            await asyncio.to_thread(self.inbox.save_request, push.key, request)
        push.request = request
        return await self._dialogue(push.openid, request, push.key)

    async def _finish(self, push: Push, rendered: Rendered) -> None:
        """Passive if the HTTP answer is still open and the text fits; else deliver."""
        reply = {**rendered.as_reply(), **({"request": push.request} if push.request else {})}
        if rendered.fits_passive and await asyncio.to_thread(
                self.inbox.finish_passive, push.key, reply):
            if push.outcome is not None and not push.outcome.done():
                push.outcome.set_result(("passive", rendered.text))
            return
        await asyncio.to_thread(self.inbox.to_async, push.key)
        if push.outcome is not None and not push.outcome.done():
            push.outcome.set_result(("async", None))
        delivered = await self._deliver(push.openid, rendered.text)
        await asyncio.to_thread(self.inbox.finish_async, push.key, reply, delivered)

    # -- crashed processes -----------------------------------------------------------

    def start_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.ensure_future(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            with contextlib.suppress(Exception):
                await self.recover_abandoned()

    async def recover_abandoned(self) -> int:
        """Re-run turns whose process died (lease expired); answers go by customer service."""
        recovered = 0
        for stale in await asyncio.to_thread(self.inbox.abandoned):
            claim = await asyncio.to_thread(self.inbox.claim, stale.key, stale.openid)
            if not claim.acquired:
                continue
            await asyncio.to_thread(self.inbox.to_async, stale.key)
            if not claim.entry.request:
                await asyncio.to_thread(self.inbox.finish_async, stale.key, claim.entry.reply,
                                        False)
                continue
            recovered += 1
            logger.info("WeChat: recovering %s of %s", stale.key[:24], short(stale.openid))
            push = Push(stale.openid, stale.key, time.monotonic())
            place = self._line.enter(stale.openid)
            self._spawn(self._turn(push, place, claim.entry))
        return recovered
