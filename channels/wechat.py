"""The Official Account (公众号) channel: WeChat pushes to /webhooks/wechat/webhook.

A Rasa input channel (credentials.yml: `channels.wechat.WeChatInput:`), configured
from the environment (wechat.config.WeChatSettings.from_env()).

GET  — server verification: `signature` checked → `echostr` echoed.
POST — verify → parse → UserMessage:
  verify: body size (413) → with an EncodingAESKey configured, safe mode only →
    signatures, constant-time (403) → timestamp freshness (403) → XML safety and
    shape (400) → AES with the current/previous key and our AppID (403) → the
    sender is an openid (bot.senders) → replay: a used (timestamp, nonce) with a
    different request (403; the byte-identical retries WeChat sends pass);
  parse: message type → the citizen's words (vaulted like every channel), a menu
    payload, a numbered choice, or a fixed answer (welcome, unsupported types);
  → wechat.turns: dedup, order, passive reply or customer-service message; Rasa
    gets `UserMessage(text, WeChatOutput, openid)`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
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

from bot import messages, senders
from bot.nonces import OTHER, Nonces, digest
from bot.privacy.vault import Vault
from channels.rest import MAX_MESSAGE_CHARS
from wechat import xml as wxml
from wechat.config import WeChatSettings
from wechat.crypto import PushCrypto, Refused, Replayed
from wechat.delivery import wake as wake_notifications
from wechat.inbox import Inbox, message_key
from wechat.replies import Rendered, choice_payload, render, text_reply_xml
from wechat.turns import Push, Turns, short

logger = logging.getLogger(__name__)

SUCCESS = "success"
WELCOME = messages.text("wechat", "welcome")
WELCOME_CHOICES: list[dict[str, str]] = messages.topic("wechat")["welcome_choices"]
UNSUPPORTED = messages.text("wechat", "unsupported")
VOICE_UNCLEAR = messages.text("wechat", "voice_unclear")
MENU_UNKNOWN = messages.text("wechat", "menu_unknown")
APOLOGY = messages.text("wechat", "apology")

MENU_INTENTS = {"list_bundles", "check_status", "start_application", "request_human", "greet"}
_BUNDLE_ID = re.compile(r"[a-z][a-z0-9_]{1,63}")
MAX_ECHOSTR = 512


class WeChatOutput(CollectingOutputChannel):
    """Collects one turn's bot messages; the channel renders them as one WeChat text."""

    @classmethod
    def name(cls) -> str:
        return "wechat"


class WeChatCustomServiceOutput(OutputChannel):
    """Sends straight to the citizen by customer-service message: messages outside a
    turn (e.g. a reminder Rasa sends on its own)."""

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
        # Both sides of the freshness window, plus slack: a nonce outlives its push.
        self.nonces = Nonces("wechat", ttl=2 * self.settings.max_clock_skew + 60)
        self._client: Any = None
        self._on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None

    @cached_property
    def vault(self) -> Vault:
        return Vault()

    @cached_property
    def inbox(self) -> Inbox:
        return Inbox()

    @cached_property
    def turns(self) -> Turns:
        return Turns(self.inbox, self.settings.reply_budget, prepare=self._request_for,
                     dialogue=self._dialogue, deliver=self.deliver,
                     on_message=wake_notifications, apology=APOLOGY)

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
            return self._verify_server(request)

        @bp.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request)

        return bp

    def _verify_server(self, request: Request) -> HTTPResponse:
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
            push, safe, nonce, replay_key = self._verify(request, body, started)
            push.guard = self._replay_guard(replay_key, digest(body, request.query_string))
            answer = await self.turns.handle(push)
        except wxml.BadXML as exc:
            logger.warning("WeChat push refused (%s): %s", exc.status, exc)
            return response.text("bad request" if exc.status == 400 else "too large",
                                 status=exc.status)
        except Refused as exc:
            logger.warning("WeChat push refused (403): %s", exc)
            return response.text("forbidden", status=403)
        except Exception:  # noqa: BLE001 - the inbox is down: let WeChat retry
            logger.exception("WeChat inbox unavailable")
            return response.text("unavailable", status=503)
        return self._passive(push, answer.text, safe, nonce)

    def _replay_guard(self, replay_key: str, request_digest: str) -> Callable[[Any], None]:
        """Records the push's (timestamp, nonce) with the inbox row, in one transaction;
        refuses it when they came before with a different request (a byte-identical
        retry is WeChat's own and passes)."""
        def guard(session: Any) -> None:
            if self.nonces.check(session, replay_key, request_digest) == OTHER:
                raise Replayed("this timestamp and nonce came with another request")
        return guard

    def _verify(self, request: Request, body: bytes, started: float
                ) -> tuple[Push, bool, str, str]:
        """Everything that can refuse a push, with no side effect; then its parse."""
        assert self.crypto is not None
        body = wxml.check_size(body)
        args = request.args
        timestamp, nonce = args.get("timestamp") or "", args.get("nonce") or ""
        signature, msg_signature = args.get("signature"), args.get("msg_signature")
        safe = (args.get("encrypt_type") or "raw").lower() == "aes"
        if not safe:
            if self.settings.aes_keys:
                raise Refused("plain-mode push while an EncodingAESKey is configured")
            self.crypto.check_signature(signature, timestamp, nonce)
            self.crypto.check_fresh(timestamp)
            fields_xml: bytes | str = wxml.check_safe(body)
        else:
            if signature is not None:
                self.crypto.check_signature(signature, timestamp, nonce)
            self.crypto.check_fresh(timestamp)
            envelope = wxml.parse_dict(body)
            encrypt = envelope.get("Encrypt")
            if not isinstance(encrypt, str) or not encrypt.strip():
                raise wxml.BadXML("safe mode push without Encrypt")
            self.crypto.check_msg_signature(msg_signature, timestamp, nonce, encrypt)
            fields_xml = self.crypto.decrypt(encrypt)
        msg = wxml.parse(fields_xml)
        try:
            openid = senders.wechat_sender(str(msg.source))
        except senders.SenderRefused as exc:
            raise wxml.BadXML(str(exc)) from None
        push = Push(openid, message_key(msg), started, account=str(msg.target))
        self._parse(push, msg)
        return push, safe, nonce, f"{timestamp}:{nonce}"

    def _parse(self, push: Push, msg: Any) -> None:
        kind = msg.type
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

    def _passive(self, push: Push, text: str | None, safe: bool, nonce: str) -> HTTPResponse:
        if not text:
            return response.text(SUCCESS)
        assert self.crypto is not None
        body = text_reply_xml(push.openid, push.account, text, int(time.time()))
        if safe:
            body = self.crypto.encrypt_reply(body, nonce=nonce)
        return response.text(body, content_type="application/xml; charset=utf-8")

    # -- what Rasa sees --------------------------------------------------------------

    def _request_for(self, push: Push) -> dict[str, str]:
        """What Rasa will see: a trusted payload (menu, numbered choice) or the
        citizen's words with 身份证号/phone vaulted, as on every channel."""
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

    async def _dialogue(self, openid: str, request: dict, key: str) -> Rendered:
        text = request.get("text") or ""
        if not text.strip():
            return Rendered("")
        assert self._on_new_message is not None
        collector = WeChatOutput()
        await self._on_new_message(UserMessage(
            text, collector, openid, input_channel=self.name(), message_id=key,
            metadata={"wechat": {"key": key}}))
        return render(collector.messages)

    # -- customer-service delivery ---------------------------------------------------

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

    async def recover_abandoned(self) -> int:
        return await self.turns.recover_abandoned()


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
