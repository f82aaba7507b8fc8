"""A loopback fake of api.weixin.qq.com for tests and `make run` without WeChat.

It speaks the documented JSON (HTTP 200 with errcode/errmsg) for:
    POST /cgi-bin/stable_token          GET /cgi-bin/token
    POST /cgi-bin/message/custom/send   POST /cgi-bin/message/subscribe/send
    GET  /sns/jscode2session            POST /wxa/msg_sec_check (v2)
and enforces what the real servers enforce, so that client bugs show:
* access_token: unknown or replaced → 40001, expired → 42001, missing → 41001. A
  fetch from cgi-bin/token replaces the app's previous basic token at once;
  stable_token in normal mode returns the current token while more than
  ``min(300 s, ttl/5)`` of it is left, a new one after that; force_refresh
  replaces it. ``token_ttl`` (default 7200 s) can be shortened for tests.
* daily quotas per (appid, path): 45009 once used up (see set_quota).
* customer-service text over 2048 bytes → 45002; an openid whose 48 h window is
  closed (set_window) → 45015; an optional per-window message count → 45047;
  a touser that is not an openid → 40003.
* subscribe: missing template → 40037, malformed data or a "thing" over 20
  characters → 47003, an openid that refused (refuse_subscribe) → 43101.
* code2Session: js_code → openid is deterministic (openid_for_code); codes starting
  with "invalid" → 40029; a code used twice → 40163; bad appid/secret → 40013/40125.
* msgSecCheck v2: "risky" when the text contains a risky word (set_risky_words).

Controls (in-process methods, and the same over HTTP under /__fake__/ for a fake
running in another process, see RemoteFake): reset, calls, sent, expire_tokens,
invalidate_tokens, fail_next, delay, set_window, set_cs_limit, set_quota,
set_token_ttl, set_risky_words, refuse_subscribe, openid_for_code.

A request whose client disconnects while it is delayed is dropped unprocessed
(as if it never reached WeChat) and recorded with ``"dropped": True``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import secrets
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from typing import Any

from aiohttp import web

OPENID = re.compile(r"^o[A-Za-z0-9_-]{27}$")
TEXT_LIMIT_BYTES = 2048
STABLE_RENEW_WINDOW = 300.0
DEFAULT_QUOTAS = {"/cgi-bin/token": 2000, "/cgi-bin/stable_token": 10000}
SUBSCRIBE_LIMITS = {"thing": 20, "character_string": 32, "number": 32, "letter": 32,
                    "symbol": 5, "phrase": 5, "name": 10, "phone_number": 17, "car_number": 8}
DEFAULT_RISKY = {"赌博": 20006, "代开发票": 20008, "色情": 20002}


def _norm(path: str) -> str:
    return "/" + path.strip().lstrip("/")


def _err(code: int, msg: str) -> dict:
    return {"errcode": code, "errmsg": f"{msg} rid: {uuid.uuid4().hex[:8]}-fake"}


def openid_for_code(code: str) -> str:
    """The openid WeChat would give for this wx.login code (deterministic, valid form)."""
    digest = hashlib.sha256(b"fake-openid:" + code.encode("utf-8")).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode("ascii")[:27]


class FakeWeChat:
    def __init__(self, apps: dict[str, str], *, token_ttl: float = 7200.0):
        self.apps = dict(apps)
        self._default_ttl = token_ttl
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self._reset_state()

    # -- lifecycle ----------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread with its own event loop; returns the base URL."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self.base_url = loop.run_until_complete(self._serve(host, port))
            except BaseException as exc:  # noqa: BLE001 - reported to the caller
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-wechat", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self.base_url

    async def _serve(self, host: str, port: int) -> str:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)  # URLs carry tokens: no access log
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()  # noqa: SLF001 - actual port
        return f"http://{bound[0]}:{bound[1]}"

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def serve_forever(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Foreground mode for `python -m wechat.fake`."""
        async def main() -> None:
            url = await self._serve(host, port)
            self.base_url = url
            print(f"FakeWeChat listening on {url}", flush=True)
            await asyncio.Event().wait()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())

    # -- state ------------------------------------------------------------------
    def _reset_state(self) -> None:
        self.token_ttl = self._default_ttl
        self._tokens: dict[str, dict] = {}  # token -> {appid, kind, expires, state}
        self._stable: dict[str, str] = {}  # appid -> current stable token
        self._basic: dict[str, str] = {}  # appid -> current basic token
        self._calls: list[dict] = []
        self._sent: list[dict] = []
        self._failures: dict[str, list[dict]] = defaultdict(list)
        self._delays: dict[str, float] = {}
        self._closed_windows: set[str] = set()
        self._cs_limit: int | None = None
        self._cs_count: dict[str, int] = defaultdict(int)
        self._quotas: dict[str, int] = dict(DEFAULT_QUOTAS)
        self._usage: dict[tuple[str, str], int] = defaultdict(int)
        self._used_codes: set[tuple[str, str]] = set()
        self._risky: dict[str, int] = dict(DEFAULT_RISKY)
        self._review: set[str] = set()
        self._refused: set[str] = set()

    def reset(self) -> None:
        """Forget everything: tokens, calls, sent messages, failures, delays, limits."""
        with self._lock:
            self._reset_state()

    def calls(self, path: str | None = None) -> list[dict]:
        with self._lock:
            return [dict(c) for c in self._calls if path is None or c["path"] == _norm(path)]

    def sent(self, openid: str | None = None) -> list[dict]:
        """Messages WeChat accepted (customer-service and subscribe), in order."""
        with self._lock:
            return [dict(m) for m in self._sent if openid is None or m["touser"] == openid]

    def expire_tokens(self, appid: str | None = None) -> None:
        """Every token issued so far is now expired (→ 42001)."""
        with self._lock:
            for info in self._tokens.values():
                if appid is None or info["appid"] == appid:
                    info["state"] = "expired"

    def invalidate_tokens(self, appid: str | None = None) -> None:
        """Every token issued so far is no longer valid (→ 40001)."""
        with self._lock:
            for info in self._tokens.values():
                if appid is None or info["appid"] == appid:
                    info["state"] = "replaced"

    def fail_next(self, path: str, errcode: int, times: int = 1, errmsg: str | None = None,
                  http_status: int | None = None) -> None:
        """The next ``times`` calls of ``path`` fail with errcode (or an HTTP status)."""
        with self._lock:
            for _ in range(times):
                self._failures[_norm(path)].append(
                    {"errcode": errcode, "errmsg": errmsg or "injected failure",
                     "http_status": http_status})

    def delay(self, path: str, seconds: float) -> None:
        """Answer calls of ``path`` only after ``seconds`` (0 removes the delay)."""
        with self._lock:
            if seconds > 0:
                self._delays[_norm(path)] = float(seconds)
            else:
                self._delays.pop(_norm(path), None)

    def set_window(self, openid: str, open: bool) -> None:  # noqa: A002 - WeChat's wording
        """Open or close an openid's 48 h customer-service window (closed → 45015)."""
        with self._lock:
            if open:
                self._closed_windows.discard(openid)
                self._cs_count.pop(openid, None)
            else:
                self._closed_windows.add(openid)

    def set_cs_limit(self, count: int | None) -> None:
        """Customer-service messages per openid per window (WeChat: 5); None = unlimited."""
        with self._lock:
            self._cs_limit = count

    def set_quota(self, path: str, limit: int | None) -> None:
        """Daily call quota per app for ``path``; calls beyond it get 45009."""
        with self._lock:
            if limit is None:
                self._quotas.pop(_norm(path), None)
            else:
                self._quotas[_norm(path)] = int(limit)

    def set_token_ttl(self, seconds: float) -> None:
        with self._lock:
            self.token_ttl = float(seconds)

    def set_risky_words(self, words: dict[str, int] | list[str], review: list[str] = ()) -> None:
        with self._lock:
            self._risky = dict(words) if isinstance(words, dict) else dict.fromkeys(words, 21000)
            self._review = set(review)

    def refuse_subscribe(self, openid: str) -> None:
        """This user turned subscribe messages off (→ 43101)."""
        with self._lock:
            self._refused.add(openid)

    openid_for_code = staticmethod(openid_for_code)

    def valid_tokens(self, appid: str) -> list[str]:
        now = time.monotonic()
        with self._lock:
            return [t for t, i in self._tokens.items()
                    if i["appid"] == appid and i["state"] == "valid" and i["expires"] > now]

    # -- HTTP ---------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = _norm(request.path)
        if path.startswith("/__fake__/"):
            return await self._control(request, path[len("/__fake__/"):])
        handler = _ROUTES.get((request.method, path))
        raw = await request.read()
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            body = None
        params = dict(request.query)
        record = {"path": path, "method": request.method, "at": time.time(),
                  "params": {k: v for k, v in params.items() if k not in ("secret", "access_token")},
                  "body": {k: v for k, v in body.items() if k != "secret"}
                  if isinstance(body, dict) else body,
                  "errcode": None}
        with self._lock:
            self._calls.append(record)
            failure = self._failures[path].pop(0) if self._failures.get(path) else None
            pause = self._delays.get(path, 0.0)
        if pause:
            await asyncio.sleep(pause)
            if request.transport is None or request.transport.is_closing():
                record["dropped"] = True
                return web.Response(status=499)
        if failure is not None:
            record["errcode"] = failure["errcode"]
            if failure["http_status"]:
                return web.Response(status=failure["http_status"], text="fake server error")
            return self._json(_err(failure["errcode"], failure["errmsg"]))
        if handler is None:
            record["errcode"] = 404
            return web.json_response(_err(404, "fake: unknown API"), status=404)
        if body is None:
            result = _err(47001, "data format error")
        else:
            with self._lock:
                result = handler(self, params, body)
        record["errcode"] = result.get("errcode", 0)
        return self._json(result)

    @staticmethod
    def _json(data: dict) -> web.Response:
        return web.Response(text=json.dumps(data, ensure_ascii=False),
                            content_type="application/json")

    # -- helpers used by the endpoints (called with the lock held) ----------------
    def _check_app(self, appid: str | None, secret: str | None) -> dict | None:
        if not appid or appid not in self.apps:
            return _err(40013, "invalid appid")
        if not secret or secret != self.apps[appid]:
            return _err(40125, "invalid appsecret")
        return None

    def _consume(self, appid: str, path: str) -> dict | None:
        limit = self._quotas.get(path)
        if limit is not None and self._usage[(appid, path)] >= limit:
            return _err(45009, "reach max api daily quota limit")
        self._usage[(appid, path)] += 1
        return None

    def _issue(self, appid: str, kind: str) -> str:
        token = f"FAKE_{kind[0].upper()}_{secrets.token_urlsafe(48)}"
        self._tokens[token] = {"appid": appid, "kind": kind, "state": "valid",
                               "expires": time.monotonic() + self.token_ttl}
        return token

    def _auth(self, params: dict, path: str) -> tuple[str | None, dict | None]:
        token = params.get("access_token")
        if not token:
            return None, _err(41001, "access_token missing")
        info = self._tokens.get(token)
        if info is None or info["state"] == "replaced":
            return None, _err(40001, "invalid credential, access_token is invalid or not latest")
        if info["state"] == "expired" or info["expires"] <= time.monotonic():
            return None, _err(42001, "access_token expired")
        return info["appid"], self._consume(info["appid"], path)

    # -- endpoints ------------------------------------------------------------------
    def _token(self, params: dict, body: dict) -> dict:
        if params.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        appid = params.get("appid")
        bad = self._check_app(appid, params.get("secret")) or self._consume(appid, "/cgi-bin/token")
        if bad:
            return bad
        previous = self._basic.get(appid)
        if previous in self._tokens:
            self._tokens[previous]["state"] = "replaced"  # a fresh fetch invalidates the old one
        token = self._issue(appid, "basic")
        self._basic[appid] = token
        return {"access_token": token, "expires_in": int(self.token_ttl)}

    def _stable_token(self, params: dict, body: dict) -> dict:
        if body.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        appid = body.get("appid")
        bad = self._check_app(appid, body.get("secret")) or self._consume(appid, "/cgi-bin/stable_token")
        if bad:
            return bad
        current = self._tokens.get(self._stable.get(appid, ""))
        now = time.monotonic()
        renew_window = min(STABLE_RENEW_WINDOW, self.token_ttl / 5)
        if body.get("force_refresh"):
            if current is not None:
                current["state"] = "replaced"
        elif current is not None and current["state"] == "valid" \
                and current["expires"] - now > renew_window:
            return {"access_token": self._stable[appid],
                    "expires_in": max(1, int(current["expires"] - now))}
        token = self._issue(appid, "stable")
        self._stable[appid] = token
        return {"access_token": token, "expires_in": int(self.token_ttl)}

    def _custom_send(self, params: dict, body: dict) -> dict:
        appid, bad = self._auth(params, "/cgi-bin/message/custom/send")
        if bad:
            return bad
        touser, msgtype = body.get("touser", ""), body.get("msgtype")
        if not OPENID.match(str(touser)):
            return _err(40003, "invalid openid")
        if msgtype not in ("text", "image", "link", "miniprogrampage", "news", "voice", "video",
                           "mpnews", "msgmenu", "wxcard"):
            return _err(40008, "invalid message type")
        content = None
        if msgtype == "text":
            content = (body.get("text") or {}).get("content")
            if not content:
                return _err(44004, "empty content")
            if len(str(content).encode("utf-8")) > TEXT_LIMIT_BYTES:
                return _err(45002, "content size out of limit")
        if touser in self._closed_windows:
            return _err(45015, "response out of time limit or subscription is canceled")
        if self._cs_limit is not None and self._cs_count[touser] >= self._cs_limit:
            return _err(45047, "out of response count limit")
        self._cs_count[touser] += 1
        self._sent.append({"kind": "custom", "appid": appid, "touser": touser,
                           "msgtype": msgtype, "content": content, "body": body,
                           "at": time.time()})
        return {"errcode": 0, "errmsg": "ok"}

    def _subscribe_send(self, params: dict, body: dict) -> dict:
        appid, bad = self._auth(params, "/cgi-bin/message/subscribe/send")
        if bad:
            return bad
        touser = str(body.get("touser", ""))
        if not OPENID.match(touser):
            return _err(40003, "invalid openid")
        if not body.get("template_id"):
            return _err(40037, "invalid template_id")
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            return _err(47003, "argument invalid! data is empty")
        for key, value in data.items():
            if not isinstance(value, dict) or not isinstance(value.get("value"), str):
                return _err(47003, f"argument invalid! data.{key}.value invalid")
            kind = re.sub(r"\d+$", "", key)
            limit = SUBSCRIBE_LIMITS.get(kind)
            if limit is not None and len(value["value"]) > limit:
                return _err(47003, f"argument invalid! data.{key}.value too long")
        if touser in self._refused:
            return _err(43101, "user refuse to accept the msg")
        self._sent.append({"kind": "subscribe", "appid": appid, "touser": touser,
                           "template_id": body["template_id"], "data": data,
                           "page": body.get("page"), "body": body, "at": time.time()})
        return {"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(10**12)}

    def _jscode2session(self, params: dict, body: dict) -> dict:
        appid = params.get("appid")
        bad = self._check_app(appid, params.get("secret"))
        if bad:
            return bad
        if params.get("grant_type") != "authorization_code":
            return _err(40002, "invalid grant_type")
        code = params.get("js_code", "")
        if not code:
            return _err(41008, "missing code")
        if code.startswith("invalid") or len(code) < 4:
            return _err(40029, "invalid code")
        if (appid, code) in self._used_codes:
            return _err(40163, "code been used")
        self._used_codes.add((appid, code))
        key = hashlib.sha256(f"{appid}:{code}".encode()).digest()[:16]
        return {"openid": openid_for_code(code),
                "session_key": base64.b64encode(key).decode("ascii")}

    def _msg_sec_check(self, params: dict, body: dict) -> dict:
        _appid, bad = self._auth(params, "/wxa/msg_sec_check")
        if bad:
            return bad
        content = body.get("content")
        if not isinstance(content, str) or not content:
            return _err(47001, "data format error")
        risky = next((label for word, label in self._risky.items() if word in content), None)
        review = any(word in content for word in self._review)
        if str(body.get("version")) != "2":  # v1: risky → errcode 87014
            return _err(87014, "risky content") if risky else {"errcode": 0, "errmsg": "ok"}
        if not OPENID.match(str(body.get("openid", ""))):
            return _err(40003, "invalid openid")
        if body.get("scene") not in (1, 2, 3, 4):
            return _err(40097, "invalid args: scene")
        suggest, label = ("risky", risky) if risky else ("review", 21000) if review else ("pass", 100)
        trace = uuid.uuid4().hex
        return {"errcode": 0, "errmsg": "ok", "trace_id": trace,
                "result": {"suggest": suggest, "label": label},
                "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest,
                            "label": label, "prob": 90 if risky else 0}]}

    # -- controls over HTTP -------------------------------------------------------
    async def _control(self, request: web.Request, action: str) -> web.Response:
        q = dict(request.query)
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        args = {**q, **(body or {})}
        if action == "calls" and request.method == "GET":
            return web.json_response(self.calls(args.get("path")))
        if action == "sent" and request.method == "GET":
            return web.json_response(self.sent(args.get("openid")))
        if action == "openid" and request.method == "GET":
            return web.json_response({"openid": openid_for_code(args.get("code", ""))})
        if request.method != "POST":
            return web.json_response({"error": "use POST"}, status=405)
        actions = {
            "reset": lambda: self.reset(),
            "expire_tokens": lambda: self.expire_tokens(args.get("appid")),
            "invalidate_tokens": lambda: self.invalidate_tokens(args.get("appid")),
            "fail_next": lambda: self.fail_next(args["path"], int(args["errcode"]),
                                                int(args.get("times", 1)), args.get("errmsg"),
                                                args.get("http_status")),
            "delay": lambda: self.delay(args["path"], float(args["seconds"])),
            "window": lambda: self.set_window(args["openid"], bool(args.get("open", True))),
            "cs_limit": lambda: self.set_cs_limit(None if args.get("count") is None
                                                     else int(args["count"])),
            "quota": lambda: self.set_quota(args["path"], None if args.get("limit") is None
                                             else int(args["limit"])),
            "token_ttl": lambda: self.set_token_ttl(float(args["seconds"])),
            "risky": lambda: self.set_risky_words(args.get("words", []), args.get("review", [])),
            "refuse_subscribe": lambda: self.refuse_subscribe(args["openid"]),
        }
        if action not in actions:
            return web.json_response({"error": f"unknown control {action}"}, status=404)
        try:
            actions[action]()
        except (KeyError, TypeError, ValueError) as exc:
            return web.json_response({"error": f"bad arguments: {exc}"}, status=400)
        return web.json_response({"ok": True})


_ROUTES: dict[tuple[str, str], Any] = {
    ("GET", "/cgi-bin/token"): FakeWeChat._token,
    ("POST", "/cgi-bin/stable_token"): FakeWeChat._stable_token,
    ("POST", "/cgi-bin/message/custom/send"): FakeWeChat._custom_send,
    ("POST", "/cgi-bin/message/subscribe/send"): FakeWeChat._subscribe_send,
    ("GET", "/sns/jscode2session"): FakeWeChat._jscode2session,
    ("POST", "/wxa/msg_sec_check"): FakeWeChat._msg_sec_check,
}


class RemoteFake:
    """Drive a FakeWeChat running in another process through /__fake__/ (sync, stdlib)."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    def _req(self, method: str, action: str, payload: dict | None = None, query: str = ""):
        data = json.dumps(payload or {}).encode() if method == "POST" else None
        req = urllib.request.Request(f"{self.base_url}/__fake__/{action}{query}", data=data,
                                     method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            return json.loads(resp.read())

    def _q(self, **kw) -> str:
        kw = {k: v for k, v in kw.items() if v is not None}
        return ("?" + urllib.parse.urlencode(kw)) if kw else ""

    def reset(self) -> None:
        self._req("POST", "reset")

    def calls(self, path: str | None = None) -> list[dict]:
        return self._req("GET", "calls", query=self._q(path=path))

    def sent(self, openid: str | None = None) -> list[dict]:
        return self._req("GET", "sent", query=self._q(openid=openid))

    def expire_tokens(self, appid: str | None = None) -> None:
        self._req("POST", "expire_tokens", {"appid": appid})

    def invalidate_tokens(self, appid: str | None = None) -> None:
        self._req("POST", "invalidate_tokens", {"appid": appid})

    def fail_next(self, path: str, errcode: int, times: int = 1, errmsg: str | None = None,
                  http_status: int | None = None) -> None:
        self._req("POST", "fail_next", {"path": path, "errcode": errcode, "times": times,
                                        "errmsg": errmsg, "http_status": http_status})

    def delay(self, path: str, seconds: float) -> None:
        self._req("POST", "delay", {"path": path, "seconds": seconds})

    def set_window(self, openid: str, open: bool) -> None:  # noqa: A002
        self._req("POST", "window", {"openid": openid, "open": open})

    def set_cs_limit(self, count: int | None) -> None:
        self._req("POST", "cs_limit", {"count": count})

    def set_quota(self, path: str, limit: int | None) -> None:
        self._req("POST", "quota", {"path": path, "limit": limit})

    def set_token_ttl(self, seconds: float) -> None:
        self._req("POST", "token_ttl", {"seconds": seconds})

    def refuse_subscribe(self, openid: str) -> None:
        self._req("POST", "refuse_subscribe", {"openid": openid})

    openid_for_code = staticmethod(openid_for_code)

