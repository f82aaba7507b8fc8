"""The Official Account (公众号) channel: WeChat pushes to /webhooks/wechat/webhook.

A Rasa custom input channel (credentials.yml: `wechat.channel.WeChatInput:`),
configured from the environment (wechat.config.WeChatSettings.from_env()).

GET  — server verification: `signature` checked → `echostr` echoed.
POST — a message or event, plain or safe (AES) mode. In order:
  body size (413) → signatures, constant-time (403) → timestamp freshness (403) →
  XML safety and shape (400) → replay (403) → AES with current/previous key and our
  AppID (403) → dedup in wechat_inbound (retries never run the dialogue twice) →
  one turn per citizen at a time, in the order sent → Rasa (sender id = openid, text
  vaulted like the REST channel) → passive reply if ready within reply_budget,
  otherwise "success" now and a customer-service message when the answer is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    OutputChannel,
    UserMessage,
)
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.rest import MAX_MESSAGE_CHARS
from bot.privacy.vault import Vault
from wechat import xml as wxml
from wechat.config import WeChatSettings
from wechat.crypto import PushCrypto, Refused
from wechat.delivery import wake as wake_notifications
from wechat.inbox import ASYNC, DONE, FAILED, REPLIED, Claim, Entry, Inbox, message_key
from wechat.replies import Rendered, choice_payload, render, text_reply_xml

logger = logging.getLogger(__name__)

SUCCESS = "success"
WELCOME = ("您好，欢迎关注！我是“一件事一次办”智能助手，可以帮您：\n"
           "· 了解一件事要办哪些事项、带什么材料、去哪儿办、多久办好\n"
           "· 在对话中直接申请，并查询办理进度\n"
           "直接用文字或语音问我就行，比如“孩子出生要办什么”“开公司要准备哪些材料”。")
WELCOME_CHOICES = [
    {"title": "看看能办哪些事", "payload": "/list_bundles"},
    {"title": "新生儿出生", "payload": '/ask_bundle{"bundle":"newborn"}'},
    {"title": "企业开办", "payload": '/ask_bundle{"bundle":"enterprise_opening"}'},
    {"title": "查询办理进度", "payload": "/check_status"},
]
UNSUPPORTED = ("抱歉，我目前只能看懂文字和语音消息。请直接用文字或语音告诉我您要办的事，"
               "比如“孩子出生要办什么”。")
VOICE_UNCLEAR = "抱歉，这条语音我没能听清。请再说一次，或者直接打字告诉我。"
MENU_UNKNOWN = "抱歉，这个菜单暂时不可用。您可以直接用文字告诉我您要办的事。"
APOLOGY = "抱歉，系统有点忙，请稍后再发一次。"

MENU_INTENTS = {"list_bundles", "check_status", "start_application", "request_human", "greet"}
_BUNDLE_ID = re.compile(r"[a-z][a-z0-9_]{1,63}")
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_ECHOSTR = 512
SWEEP_EVERY = 10.0


def short(openid: str) -> str:
    """An openid as it may appear in logs."""
    return f"{openid[:6]}…"


class WeChatOutput(CollectingOutputChannel):
    """Collects one turn's bot messages; the channel renders them as one WeChat text."""

    @classmethod
    def name(cls) -> str:
        return "wechat"


class WeChatCustomServiceOutput(OutputChannel):
    """Sends straight to the citizen by customer-service message. Rasa uses it for
    messages outside a turn (reminders, /conversations/<id>/trigger_intent)."""

    def __init__(self, channel: WeChatInput):
        self.channel = channel

    @classmethod
    def name(cls) -> str:
        return "wechat"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.channel.deliver(recipient_id, text)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        await self.channel.deliver(recipient_id,
                                   render([{"text": text, "buttons": buttons}]).text)


# -- one citizen at a time, in arrival order -----------------------------------------


class _Turns:
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


@dataclass
class Push:
    """An authenticated, parsed push and how to answer it."""

    msg: Any
    openid: str
    account: str
    key: str
    safe: bool
    nonce: str
    started: float
    static: Rendered | None = None  # answered without a dialogue
    text: str | None = None  # the citizen's words (before vaulting)
    payload: str | None = None  # a trusted intent payload (menu click)
    request: dict | None = None  # what Rasa was sent (kept with the reply for recovery)
    outcome: asyncio.Future | None = field(default=None, repr=False)


class WeChatInput(InputChannel):
    """Rasa input channel for the Official Account push URL."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatInput:
        # Secrets come from the environment only; credentials.yml names the channel.
        return cls(WeChatSettings.from_env())

    def __init__(self, settings: WeChatSettings | None = None):
        self.settings = settings or WeChatSettings.from_env()
        self.crypto: PushCrypto | None = None
        if self.settings.official_account:
            try:
                self.crypto = PushCrypto(self.settings)
            except ValueError as exc:
                logger.error("WeChat channel disabled: %s", exc)
        else:
            logger.info("WeChat channel: WECHAT_TOKEN not set, push URL refuses everything")
        self._turns = _Turns()
        self._tasks: set[asyncio.Task] = set()
        self._client: Any = None
        self._sweeper: asyncio.Task | None = None
        self._on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None

    @cached_property
    def vault(self) -> Vault:
        return Vault()

    @cached_property
    def inbox(self) -> Inbox:
        return Inbox()

    def get_output_channel(self) -> OutputChannel | None:
        return WeChatCustomServiceOutput(self) if self.crypto else None

    # -- HTTP ----------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        self._on_new_message = on_new_message
        bp = Blueprint(f"wechat_webhook_{type(self).__name__}", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.crypto else "not_configured"})

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            return self._verify(request)

        @bp.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request)

        return bp

    def _verify(self, request: Request) -> HTTPResponse:
        args = request.args
        echostr = args.get("echostr") or ""
        if self.crypto is None or not echostr or len(echostr) > MAX_ECHOSTR:
            return response.text("forbidden", status=403)
        try:
            self.crypto.check_signature(args.get("signature"), args.get("timestamp") or "",
                                        args.get("nonce") or "")
            self.crypto.check_fresh(args.get("timestamp"))
        except Refused as exc:
            logger.warning("WeChat verification refused: %s", exc)
            return response.text("forbidden", status=403)
        return response.text(echostr)

    async def _read_body(self, request: Request) -> bytes:
        """The body, streamed: a huge one is refused without being held in memory."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > wxml.MAX_BODY_BYTES:
            raise wxml.TooLarge("declared body larger than the limit")
        chunks, size = [], 0
        while True:
            chunk = await request.stream.read() if request.stream else None
            if chunk is None:
                break
            size += len(chunk)
            if size > wxml.MAX_BODY_BYTES:
                raise wxml.TooLarge("body larger than the limit")
            chunks.append(chunk)
        return b"".join(chunks) if request.stream else (request.body or b"")

    async def _receive(self, request: Request) -> HTTPResponse:
        started = time.monotonic()
        if self.crypto is None:
            return response.text("forbidden", status=403)
        try:
            body = await self._read_body(request)
            push = self._authenticate(request, body, started)
        except wxml.BadXML as exc:
            logger.warning("WeChat push refused (%s): %s", exc.status, exc)
            return response.text("bad request" if exc.status == 400 else "too large",
                                 status=exc.status)
        except Refused as exc:
            logger.warning("WeChat push refused (403): %s", exc)
            return response.text("forbidden", status=403)
        self._start_sweeper()
        return await self._handle(push)

    def _authenticate(self, request: Request, body: bytes, started: float) -> Push:
        """Everything that can refuse a push, with no side effect but the replay cache."""
        assert self.crypto is not None
        body = wxml.check_size(body)
        args = request.args
        timestamp, nonce = args.get("timestamp") or "", args.get("nonce") or ""
        signature, msg_signature = args.get("signature"), args.get("msg_signature")
        safe = (args.get("encrypt_type") or "raw").lower() == "aes"
        if not safe:
            self.crypto.check_signature(signature, timestamp, nonce)
            self.crypto.check_fresh(timestamp)
            fields_xml: bytes | str = wxml.check_safe(body)
            self.crypto.check_not_replayed(str(signature), timestamp, nonce)
        else:
            if signature is not None:
                self.crypto.check_signature(signature, timestamp, nonce)
            self.crypto.check_fresh(timestamp)
            envelope = wxml.parse_dict(body)
            encrypt = envelope.get("Encrypt")
            if not isinstance(encrypt, str) or not encrypt.strip():
                raise wxml.BadXML("safe mode push without Encrypt")
            self.crypto.check_msg_signature(msg_signature, timestamp, nonce, encrypt)
            self.crypto.check_not_replayed(str(msg_signature), timestamp, nonce)
            fields_xml = self.crypto.decrypt(encrypt)
        msg = wxml.parse(fields_xml)
        openid, account = str(msg.source), str(msg.target)
        if not _OPENID.fullmatch(openid):
            raise wxml.BadXML("FromUserName is not an openid")
        push = Push(msg, openid, account, message_key(msg), safe, nonce, started)
        self._classify(push)
        return push

    def _classify(self, push: Push) -> None:
        msg, kind = push.msg, push.msg.type
        if kind == "text":
            push.text = str(msg._data.get("Content") or "")
        elif kind == "voice":
            recognition = str(msg._data.get("Recognition") or "").strip()
            if recognition:
                push.text = recognition
            else:
                push.static = Rendered(VOICE_UNCLEAR)
        elif kind == "event":
            event = str(msg._data.get("Event") or "").lower()
            if event == "subscribe":
                push.static = Rendered(WELCOME + "\n\n" + _numbered(WELCOME_CHOICES),
                                       list(WELCOME_CHOICES))
            elif event == "click":
                push.payload = menu_payload(str(msg._data.get("EventKey") or ""))
                if push.payload is None:
                    push.static = Rendered(MENU_UNKNOWN)
            else:  # unsubscribe, VIEW, LOCATION reports, job-finished notices: no reply
                push.static = Rendered("")
        else:  # image, location, link, video, shortvideo, file, …
            push.static = Rendered(UNSUPPORTED)

    # -- answering -------------------------------------------------------------------

    def _deadline(self, push: Push) -> float:
        return push.started + self.settings.reply_budget

    def _passive(self, push: Push, text: str | None) -> HTTPResponse:
        if not text:
            return response.text(SUCCESS)
        assert self.crypto is not None
        body = text_reply_xml(push.openid, push.account, text, int(time.time()))
        if push.safe:
            body = self.crypto.encrypt_reply(body, nonce=push.nonce)
        return response.text(body, content_type="application/xml; charset=utf-8")

    async def _handle(self, push: Push) -> HTTPResponse:
        place = self._turns.enter(push.openid)  # before any await: arrival order
        try:
            claim: Claim = await asyncio.to_thread(self.inbox.claim, push.key, push.openid)
        except Exception:  # noqa: BLE001 - database down: let WeChat retry
            self._turns.leave(push.openid, place)
            logger.exception("WeChat inbox unavailable")
            return response.text("unavailable", status=503)
        if not claim.acquired:
            self._turns.leave(push.openid, place)
            return await self._answer_retry(push, claim.entry)
        if claim.recovered:
            logger.info("WeChat: taking over %s of %s after a crash", push.key[:24],
                        short(push.openid))
        else:  # the citizen just wrote: notifications waiting for their window go now
            self._spawn(asyncio.to_thread(wake_notifications, push.openid))
        push.outcome = asyncio.get_running_loop().create_future()
        self._spawn(self._turn(push, place, claim.entry))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(push.outcome),
                                   max(0.0, self._deadline(push) - time.monotonic()))
        if push.outcome.done():
            mode, text = push.outcome.result()
            return self._passive(push, text) if mode == "passive" else response.text(SUCCESS)
        # Out of time: from now on the answer goes by customer-service message.
        if await asyncio.to_thread(self.inbox.to_async, push.key):
            return response.text(SUCCESS)
        entry = await asyncio.to_thread(self.inbox.get, push.key)  # the turn just finished
        if entry is not None and entry.state == REPLIED:
            return self._passive(push, entry.reply.get("text"))
        return response.text(SUCCESS)

    async def _answer_retry(self, push: Push, entry: Entry) -> HTTPResponse:
        """A retry (or a replay that reached another process): never a second turn.
        Waits while the first delivery is being answered, then returns its passive
        reply, or "success" and hands the answer to the customer-service path."""
        deadline = self._deadline(push)
        while True:
            if entry.state == REPLIED:
                return self._passive(push, entry.reply.get("text"))
            if entry.state in (ASYNC, DONE, FAILED):
                return response.text(SUCCESS)
            if time.monotonic() >= deadline:
                if await asyncio.to_thread(self.inbox.to_async, push.key):
                    return response.text(SUCCESS)
            else:
                await asyncio.sleep(0.05)
            fresh = await asyncio.to_thread(self.inbox.get, push.key)
            if fresh is None:
                return response.text(SUCCESS)
            entry = fresh

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
                await self._finish(push, Rendered(APOLOGY))
        finally:
            renewer.cancel()
            self._turns.leave(push.openid, place)
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
            request = await asyncio.to_thread(self._request_for, push)
            await asyncio.to_thread(self.inbox.save_request, push.key, request)
        push.request = request
        return await self._dialogue(push.openid, request["text"], push.key)

    def _request_for(self, push: Push) -> dict[str, str]:
        """What Rasa will see: a trusted payload (menu, numbered choice) or the
        citizen's words with 身份证号/phone vaulted, as in bot/channels/rest.py."""
        if push.payload:
            return {"text": push.payload, "source": "menu"}
        text = (push.text or "").strip()[:MAX_MESSAGE_CHARS]
        payload = choice_payload(text, self.inbox.last_choices(push.openid, push.key))
        if payload:
            return {"text": payload, "source": "choice"}
        text = self.vault.protect(text, push.openid) or ""
        if text.startswith("/"):  # only our own buttons may speak in intents
            text = "／" + text[1:]
        return {"text": text, "source": "citizen"}

    async def _dialogue(self, openid: str, text: str, key: str) -> Rendered:
        if not text.strip():
            return Rendered("")
        assert self._on_new_message is not None
        collector = WeChatOutput()
        await self._on_new_message(UserMessage(
            text, collector, openid, input_channel=self.name(), message_id=key,
            metadata={"wechat": {"key": key}}))
        return render(collector.messages)

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
        delivered = await self.deliver(push.openid, rendered.text)
        await asyncio.to_thread(self.inbox.finish_async, push.key, reply, delivered)

    # -- customer-service delivery, crash recovery --------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            from wechat.api import official_account

            self._client = official_account(self.settings)
        return self._client

    async def deliver(self, openid: str, text: str) -> bool:
        if not text:
            return True
        try:
            await self.client.custom.send_text(openid, text)
            return True
        except Exception as exc:  # noqa: BLE001 - logged without secrets, row marked failed
            logger.error("WeChat customer-service send to %s failed: %s", short(openid),
                         type(exc).__name__)
            return False

    def _start_sweeper(self) -> None:
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
            request = claim.entry.request
            if not request:
                await asyncio.to_thread(self.inbox.finish_async, stale.key, claim.entry.reply,
                                        False)
                continue
            recovered += 1
            logger.info("WeChat: recovering %s of %s", stale.key[:24], short(stale.openid))
            push = Push(None, stale.openid, "", stale.key, False, "", time.monotonic())
            place = self._turns.enter(stale.openid)
            self._spawn(self._turn(push, place, claim.entry))
        return recovered


def _numbered(choices: list[dict[str, str]]) -> str:
    return render([{"buttons": choices}]).text


def menu_payload(event_key: str) -> str | None:
    """The Rasa message for a menu click: a contract intent, or a bundle question."""
    key = event_key.strip()
    if key in MENU_INTENTS:
        return f"/{key}"
    for prefix in ("bundle:", "ask_bundle:"):
        if key.startswith(prefix):
            key = key[len(prefix):]
    if _BUNDLE_ID.fullmatch(key):
        return "/ask_bundle" + json.dumps({"bundle": key}, separators=(",", ":"))
    return None
