"""The backend over real HTTP for the staff tests: one app on a loopback port, and
browser-like clients (each its own cookie jar) that log in, keep the CSRF token
and come from an address of their choosing (via a trusted proxy's X-Forwarded-For,
so one test's failed logins never throttle another's)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from yarl import URL

from backend.app import create_app
from bot.applications.service import Applications
from bot.staff.accounts import StaffAccounts
from bot.staff.audit import Actor

_addresses = itertools.count(1)


def new_ip() -> str:
    n = next(_addresses)
    return f"198.51.{n // 250}.{n % 250 + 1}"  # TEST-NET-2 style, never routed


@dataclass
class Reply:
    status: int
    body: object
    headers: dict
    cookies: list

    @property
    def error(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None


class Browser:
    """One browser: its own cookies, its own address, the CSRF token of its session."""

    def __init__(self, server: Server, ip: str | None = None):
        self.server, self.ip = server, ip or new_ip()
        self.csrf: str | None = None
        self.session = server.run(self._open())
        server.browsers.append(self)

    async def _open(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    def call(self, method: str, path: str, body=None, *, csrf: bool | str = True,
             headers: dict | None = None, data: bytes | None = None,
             redirects: bool = False) -> Reply:
        hdrs = {"X-Forwarded-For": self.ip, **(headers or {})}
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            hdrs["X-CSRF-Token"] = csrf if isinstance(csrf, str) else self.csrf
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")

        async def go():
            async with self.session.request(method, self.server.url + path, data=data,
                                            headers=hdrs, allow_redirects=redirects) as resp:
                raw = await resp.read()
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = raw.decode("utf-8", "replace")
                return Reply(resp.status, parsed, dict(resp.headers),
                             resp.headers.getall("Set-Cookie", []))

        return self.server.run(go())

    def login(self, username: str, password: str) -> Reply:
        reply = self.call("POST", "/api/staff/login", {"username": username, "password": password})
        if reply.status == 200:
            self.csrf = reply.body["csrf"]
        return reply

    def cookie(self, name: str = "yjs_staff") -> str | None:
        for c in self.session.cookie_jar:
            if c.key == name:
                return c.value
        return None

    def set_cookie(self, value: str, name: str = "yjs_staff") -> None:
        self.session.cookie_jar.update_cookies({name: value}, URL(self.server.url))

    def close(self) -> None:
        if not self.session.closed:
            self.server.run(self.session.close())


class Server:
    def __init__(self, loop: asyncio.AbstractEventLoop, app):
        self.loop, self.server = loop, TestServer(app, host="127.0.0.1")
        self.run(self.server.start_server())
        self.url = str(self.server.make_url("")).rstrip("/")
        self.app = app
        self.browsers: list[Browser] = []

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def browser(self, ip: str | None = None) -> Browser:
        return Browser(self, ip)

    def close(self) -> None:
        for b in self.browsers:
            b.close()
        self.run(self.server.close())


@pytest.fixture(scope="session")
def trusted_proxy():
    """Tests reach the backend 'through a proxy' on 127.0.0.1 so each can pick its address."""
    old = os.environ.get("YJS_TRUSTED_PROXIES")
    os.environ["YJS_TRUSTED_PROXIES"] = "127.0.0.1"
    yield
    if old is None:
        os.environ.pop("YJS_TRUSTED_PROXIES", None)
    else:
        os.environ["YJS_TRUSTED_PROXIES"] = old


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def serve(loop, kb, **kw) -> Server:
    return Server(loop, create_app(Applications(kb), **kw))


@pytest.fixture(scope="module")
def server(loop, kb, trusted_proxy):
    s = serve(loop, kb)
    yield s
    s.close()


@dataclass(frozen=True)
class Person:
    username: str
    password: str
    roles: tuple[str, ...]


@pytest.fixture(scope="session")
def people(database_url):
    """make(roles…) → a new account with a random password (the test DB is shared)."""
    accounts = StaffAccounts()
    counter = itertools.count(1)

    def make(*roles: str, prefix: str = "u") -> Person:
        name = f"{prefix}{next(counter)}-{secrets.token_hex(3)}"
        password = "pw-" + secrets.token_urlsafe(12)
        accounts.add_or_update(name, roles, password, actor=Actor("test"))
        return Person(name, password, tuple(roles))

    return make


@pytest.fixture
def browser(server):
    b = server.browser()
    yield b
    b.close()


def logged_in(server: Server, person: Person) -> Browser:
    b = server.browser()
    reply = b.login(person.username, person.password)
    assert reply.status == 200, reply.body
    return b
