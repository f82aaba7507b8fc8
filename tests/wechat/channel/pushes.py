"""Pushes built the way WeChat's servers build them (sign, encrypt), for the tests and
the benchmark. Independent of wechat/crypto.py: signing is hashlib over the sorted
parts, encryption is wechatpy's PrpCrypto (WeChat's documented AES-CBC scheme)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
import secrets
import string
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from wechatpy.crypto import PrpCrypto

FIXTURES = Path(__file__).parent / "fixtures"
_msg_ids = itertools.count(int(time.time() * 1000) * 1000 + os.getpid() % 1000)


def new_aes_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def new_openid() -> str:
    """28 characters starting with "o", as WeChat's openids (the fake checks the form)."""
    alphabet = string.ascii_letters + string.digits + "_-"
    return "o" + "".join(secrets.choice(alphabet) for _ in range(27))


def wechat_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def template(name: str, **values: object) -> str:
    return string.Template((FIXTURES / name).read_text(encoding="utf-8")).substitute(
        {k: str(v) for k, v in values.items()})


@dataclass
class Reply:
    status: int
    body: str
    text: str = ""  # the passive reply's Content, decrypted when in safe mode


@dataclass
class WeChatSim:
    """One Official Account as WeChat's servers see it."""

    url: str
    token: str
    aes_key: str
    appid: str
    account: str = "gh_7f083739789a"
    sent: list[tuple[dict, bytes]] = field(default_factory=list)

    # -- building ----------------------------------------------------------------

    def message(self, kind: str, openid: str, *, msg_id: int | None = None,
                create_time: int | None = None, **values: object) -> str:
        """A fixture filled in: text, voice, image, location, link, video, event_*."""
        values.setdefault("content", "")
        values.setdefault("recognition", "")
        values.setdefault("event_key", "")
        return template(f"{kind}.xml", account=self.account, openid=openid,
                        create_time=create_time or int(time.time()),
                        msg_id=msg_id if msg_id is not None else next(_msg_ids), **values)

    def text(self, openid: str, content: str, msg_id: int | None = None) -> str:
        return self.message("text", openid, content=content, msg_id=msg_id)

    def encrypt(self, xml: str, key: str | None = None, appid: str | None = None) -> str:
        aes = base64.b64decode((key or self.aes_key) + "=")
        return PrpCrypto(aes).encrypt(xml, appid or self.appid).decode()

    def signed(self, xml: str | bytes, *, safe: bool = True, key: str | None = None,
               appid: str | None = None, timestamp: int | None = None,
               nonce: str | None = None) -> tuple[dict, bytes]:
        """(query, body) of a push. Safe mode: the envelope WeChat sends (ToUserName +
        Encrypt), signature and msg_signature, encrypt_type=aes, openid."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**10))
        query = {"signature": wechat_signature(self.token, ts, nonce), "timestamp": ts,
                 "nonce": nonce}
        raw = xml.decode() if isinstance(xml, bytes) else xml
        openid = re.search(r"<FromUserName><!\[CDATA\[(.*?)\]\]>", raw)
        if openid:
            query["openid"] = openid.group(1)
        if not safe:
            return query, raw.encode()
        encrypt = self.encrypt(raw, key, appid)
        body = (f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
        query.update(encrypt_type="aes",
                     msg_signature=wechat_signature(self.token, ts, nonce, encrypt))
        return query, body.encode()

    # -- sending -----------------------------------------------------------------

    def post(self, query: dict, body: bytes, timeout: float = 60) -> Reply:
        self.sent.append((query, body))
        req = urllib.request.Request(f"{self.url}?{urllib.parse.urlencode(query)}", data=body,
                                     headers={"Content-Type": "text/xml"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
                status, raw = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read().decode()
        return Reply(status, raw, self.read_reply(raw, "encrypt_type" in query))

    def send(self, xml: str, *, safe: bool = True, **kw) -> Reply:
        return self.post(*self.signed(xml, safe=safe, **kw))

    def get(self, query: dict) -> Reply:
        req = urllib.request.Request(f"{self.url}?{urllib.parse.urlencode(query)}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
                return Reply(resp.status, resp.read().decode())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.read().decode())

    # -- reading replies ---------------------------------------------------------

    def read_reply(self, raw: str, safe: bool) -> str:
        """The Content of a passive reply ("" for "success"); safe-mode replies are
        checked like WeChat does (MsgSignature) and decrypted with the current key."""
        if not raw.startswith("<xml>"):
            return ""
        if safe:
            encrypt = _field(raw, "Encrypt")
            signature = _field(raw, "MsgSignature")
            ts, nonce = _field(raw, "TimeStamp"), _field(raw, "Nonce")
            assert signature == wechat_signature(self.token, ts, nonce, encrypt), raw
            raw = PrpCrypto(base64.b64decode(self.aes_key + "=")).decrypt(encrypt, self.appid)
        return _field(raw, "Content")


def _field(xml: str, name: str) -> str:
    match = re.search(rf"<{name}>(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))</{name}>", xml, re.S)
    if not match:
        return ""
    return match.group(1) if match.group(1) is not None else match.group(2)


def official_samples() -> dict:
    return json.loads((FIXTURES / "official_samples.json").read_text(encoding="utf-8"))
