"""Attacks on the staff layer, over real HTTP against the real backend and database:
no session, wrong role, missing or forged CSRF, cross-site requests, session
fixation, expiry, revocation, and the cookie's flags."""

from __future__ import annotations

import re
import time

import pytest

from backend.staff.auth import COOKIE, SECURE_COOKIE
from bot.staff.accounts import ADMIN, AGENT, EDITOR, PUBLISHER, StaffAccounts
from bot.staff.audit import Actor
from bot.staff.sessions import StaffSessions
from tests.backend.conftest import logged_in, serve

STAFF_PREFIXES = ("/api/staff", "/api/admin", "/api/agent", "/api/editor")
# Paths no route serves yet (the agent/editor consoles add them): the boundary answers first.
FUTURE_PATHS = [("GET", "/api/agent/conversations?state=waiting"),
                ("POST", "/api/agent/conversations/c1/takeover"),
                ("GET", "/api/editor/bundles"), ("PUT", "/api/editor/bundles/newborn"),
                ("POST", "/api/editor/models/m1/publish"), ("GET", "/api/admin/nothing-here"),
                ("DELETE", "/api/staff/whatever")]


def staff_routes(server) -> list[tuple[str, str]]:
    out = []
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith(STAFF_PREFIXES) and route.method not in ("HEAD", "*"):
            out.append((route.method, path.replace("{username}", "someone")))
    return out


def test_every_staff_endpoint_refuses_a_request_without_a_session(server, browser):
    routes = [r for r in staff_routes(server) if r[1] != "/api/staff/login"]
    assert len(routes) >= 8
    for method, path in routes + FUTURE_PATHS:
        body = {} if method in ("POST", "PUT", "PATCH") else None
        for cookie in (None, "forged-token", "x" * 500):
            if cookie:
                browser.set_cookie(cookie)
            reply = browser.call(method, path, body)
            assert reply.status == 401, (method, path, cookie, reply.status)
            assert reply.error == "unauthorized" and reply.body["message"]
            assert reply.headers["Cache-Control"] == "no-store"


def test_a_session_without_the_role_is_refused_and_a_role_grants_nothing_else(server, people):
    agent, editor, admin = people(AGENT), people(EDITOR), people(ADMIN)
    publisher = people(PUBLISHER)
    a, e, m, p = (logged_in(server, x) for x in (agent, editor, admin, publisher))
    try:
        for browser, path in ((a, "/api/admin/accounts"), (a, "/api/admin/audit"),
                              (a, "/api/editor/bundles"), (e, "/api/agent/conversations"),
                              (e, "/api/admin/accounts"), (m, "/api/agent/conversations"),
                              (m, "/api/editor/bundles"), (p, "/api/editor/bundles"),
                              (p, "/api/agent/conversations")):
            reply = browser.call("GET", path)
            assert reply.status == 403 and reply.error == "forbidden", (path, reply.status)
        # with a valid CSRF token too: the role check does not depend on it
        reply = a.call("POST", "/api/admin/accounts",
                       {"username": "mallory", "password": "p", "roles": [ADMIN]})
        assert reply.status == 403 and StaffAccounts().get("mallory") is None
        assert a.call("PATCH", f"/api/admin/accounts/{agent.username}",
                      {"roles": [AGENT, ADMIN]}).status == 403
        assert StaffAccounts().get(agent.username).roles == (AGENT,)
        # the right role passes the boundary
        assert e.call("GET", "/api/editor/bundles").status == 200
        assert a.call("GET", "/api/agent/conversations").status == 200
        assert m.call("GET", "/api/admin/accounts").status == 200
    finally:
        for b in (a, e, m, p):
            b.close()


def test_console_pages_need_a_session_and_their_role(server, people):
    anonymous = server.browser()
    reply = anonymous.call("GET", "/console/admin/")
    assert reply.status == 303 and reply.headers["Location"] == "/console/?next=/console/admin/"
    assert anonymous.call("GET", "/console/").status == 200  # the login page is open
    agent = logged_in(server, people(AGENT))
    forbidden = agent.call("GET", "/console/admin/")
    assert forbidden.status == 403 and "没有访问此页面的权限" in forbidden.body
    assert agent.call("GET", "/console/editor/").status == 403
    assert agent.call("GET", "/console/agent/").status == 200
    publisher = logged_in(server, people(PUBLISHER))
    assert publisher.call("GET", "/console/editor/").status == 200  # publishes from there
    for b in (anonymous, agent, publisher):
        b.close()


def test_state_changes_need_the_sessions_csrf_token(server, people):
    admin, other = people(ADMIN), people(ADMIN)
    b, b2 = logged_in(server, admin), logged_in(server, other)
    body = {"username": "csrf-victim", "password": "p", "roles": [AGENT]}
    try:
        for csrf in (False, "wrong", b2.csrf, b.csrf[:-1], b.csrf + "x"):
            reply = b.call("POST", "/api/admin/accounts", body, csrf=csrf)
            assert reply.status == 403 and reply.error == "csrf", csrf
        assert StaffAccounts().get("csrf-victim") is None
        # logout is a state change too: without the token the session stays
        assert b.call("POST", "/api/staff/logout", {}, csrf=False).status == 403
        assert b.call("GET", "/api/staff/me").status == 200
        # the right token, but sent from another site (a browser says so)
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            reply = b.call("POST", "/api/admin/accounts", body, headers=headers)
            assert reply.status == 403 and reply.error == "cross_site"
        assert StaffAccounts().get("csrf-victim") is None
        # GET never changes anything and needs no token; the real token works
        assert b.call("GET", "/api/admin/accounts", csrf=False).status == 200
        same_origin = {"Origin": server.url, "Sec-Fetch-Site": "same-origin"}
        assert b.call("POST", "/api/admin/accounts", body, headers=same_origin).status == 201
    finally:
        b.close()
        b2.close()


def test_login_is_json_only_and_same_site_only(server, people, browser):
    person = people(AGENT)
    form = f"username={person.username}&password={person.password}".encode()
    reply = browser.call("POST", "/api/staff/login", data=form,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 415  # a cross-site HTML form cannot log a browser in
    reply = browser.call("POST", "/api/staff/login",
                         {"username": person.username, "password": person.password},
                         headers={"Origin": "https://evil.example"})
    assert reply.status == 403 and browser.cookie() is None
    for bad in ([], {"username": person.username}, {"username": 1, "password": "x"},
                {"username": "a" * 65, "password": "x"}, {"username": "a", "password": "x" * 1025}):
        assert browser.call("POST", "/api/staff/login", bad).status == 400


def test_session_fixation_a_token_chosen_before_login_never_becomes_a_session(server, people):
    victim, attacker = people(AGENT), people(AGENT)
    # 1. a made-up token planted in the victim's browser
    b = server.browser()
    b.set_cookie("planted-token-0123456789")
    assert b.login(victim.username, victim.password).status == 200
    assert b.cookie() != "planted-token-0123456789"
    planted = server.browser()
    planted.set_cookie("planted-token-0123456789")
    assert planted.call("GET", "/api/staff/me").status == 401
    # 2. the attacker's own live session planted in the victim's browser ends at login
    mallory = logged_in(server, attacker)
    stolen = mallory.cookie()
    b2 = server.browser()
    b2.set_cookie(stolen)
    assert b2.call("GET", "/api/staff/me").body["username"] == attacker.username
    assert b2.login(victim.username, victim.password).status == 200
    assert b2.cookie() != stolen
    assert b2.call("GET", "/api/staff/me").body["username"] == victim.username
    assert mallory.call("GET", "/api/staff/me").status == 401  # the planted session is gone
    for x in (b, planted, mallory, b2):
        x.close()


def test_logout_ends_the_session_on_the_server(server, people):
    b = logged_in(server, people(AGENT))
    token = b.cookie()
    reply = b.call("POST", "/api/staff/logout", {})
    assert reply.status == 200
    assert any(c.startswith(f"{COOKIE}=;") or f"{COOKIE}=\"\"" in c for c in reply.cookies)
    replay = server.browser()
    replay.set_cookie(token)  # the old cookie, replayed
    assert replay.call("GET", "/api/staff/me").status == 401
    assert replay.call("POST", "/api/staff/logout", {}).status == 401
    b.close()
    replay.close()


def test_sessions_expire_absolutely_and_after_idling(loop, kb, trusted_proxy, people):
    from backend.staff.auth import StaffServices

    person = people(AGENT)
    short = serve(loop, kb, staff_services=StaffServices(sessions=StaffSessions(ttl=3, idle=100)))
    idle = serve(loop, kb, staff_services=StaffServices(sessions=StaffSessions(ttl=100, idle=2)))
    try:
        b = logged_in(short, person)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline - 0.7:  # in use all the time…
            assert b.call("GET", "/api/staff/me").status == 200
            time.sleep(0.5)
        time.sleep(1.2)
        assert b.call("GET", "/api/staff/me").status == 401  # …and still over after 3 s
        b2 = logged_in(idle, person)
        for _ in range(4):  # kept alive by use, past the idle timeout
            time.sleep(1)
            assert b2.call("GET", "/api/staff/me").status == 200
        time.sleep(2.5)
        assert b2.call("GET", "/api/staff/me").status == 401  # idle too long
        b.close()
        b2.close()
    finally:
        short.close()
        idle.close()


def test_password_change_disabling_and_role_removal_take_effect_at_once(server, people):
    admin, agent = people(ADMIN), people(AGENT)
    m, a = logged_in(server, admin), logged_in(server, agent)
    path = f"/api/admin/accounts/{agent.username}"
    assert a.call("GET", "/api/staff/me").body["roles"] == [AGENT]
    assert m.call("PATCH", path, {"roles": [EDITOR]}).status == 200
    assert a.call("GET", "/api/staff/me").body["roles"] == [EDITOR]  # same session, new roles
    assert a.call("GET", "/api/agent/conversations").status == 403
    assert m.call("PATCH", path, {"password": "a-new-password"}).status == 200
    assert a.call("GET", "/api/staff/me").status == 401  # every session of the account ended
    a2 = logged_in(server, type(agent)(agent.username, "a-new-password", agent.roles))
    assert m.call("PATCH", path, {"disabled": True}).status == 200
    assert a2.call("GET", "/api/staff/me").status == 401
    assert a2.login(agent.username, "a-new-password").status == 401  # disabled: like a wrong password
    assert m.call("PATCH", path, {"disabled": False}).status == 200
    assert a2.login(agent.username, "a-new-password").status == 200
    for b in (m, a, a2):
        b.close()


def test_own_password_change_needs_the_current_one_and_ends_other_sessions(server, people):
    person = people(AGENT)
    here, elsewhere = logged_in(server, person), logged_in(server, person)
    reply = here.call("POST", "/api/staff/password", {"current": "wrong", "new": "next-password-1"})
    assert reply.status == 403 and reply.error == "wrong_password"
    reply = here.call("POST", "/api/staff/password",
                      {"current": person.password, "new": "next-password-1"})
    assert reply.status == 200
    here.csrf = reply.body["csrf"]
    assert here.call("GET", "/api/staff/me").status == 200  # this browser got a new session
    assert elsewhere.call("GET", "/api/staff/me").status == 401
    assert here.login(person.username, person.password).status == 401
    assert here.login(person.username, "next-password-1").status == 200
    here.close()
    elsewhere.close()


def test_cookie_flags_http_and_https(server, people):
    person = people(AGENT)
    b = server.browser()
    reply = b.login(person.username, person.password)
    [cookie] = [c for c in reply.cookies if c.startswith(f"{COOKIE}=") and "Max-Age=0" not in c]
    assert re.search(r"; HttpOnly", cookie) and "SameSite=Strict" in cookie
    assert "Path=/" in cookie and "Secure" not in cookie and "Domain" not in cookie
    # behind a TLS-terminating proxy we trust: Secure, and the __Host- prefix
    https = b.call("POST", "/api/staff/login",
                   {"username": person.username, "password": person.password},
                   headers={"X-Forwarded-Proto": "https"})
    [secure] = [c for c in https.cookies if c.startswith(f"{SECURE_COOKIE}=")]
    assert "Secure" in secure and "HttpOnly" in secure and "SameSite=Strict" in secure
    assert https.headers["Strict-Transport-Security"].startswith("max-age=")
    b.close()


def test_an_untrusted_peer_cannot_claim_https_or_another_address(loop, kb, people):
    import os

    person = people(AGENT)
    old = os.environ.pop("YJS_TRUSTED_PROXIES", None)
    s = serve(loop, kb)
    try:
        b = s.browser(ip="203.0.113.9")
        reply = b.call("POST", "/api/staff/login",
                       {"username": person.username, "password": person.password},
                       headers={"X-Forwarded-Proto": "https"})
        set_now = [c.split("=", 1)[0] for c in reply.cookies if "Max-Age=0" not in c]
        assert reply.status == 200 and set_now == [COOKIE]  # not Secure: plain HTTP here
        from bot.staff import audit

        entry = audit.entries(actor=person.username, action=audit.LOGIN)[0]
        assert entry.ip == "127.0.0.1"  # the peer, not the X-Forwarded-For it sent
        b.close()
    finally:
        s.close()
        if old is not None:
            os.environ["YJS_TRUSTED_PROXIES"] = old


def test_every_answer_carries_security_headers(server, browser):
    for path in ("/healthz", "/console/", "/console/assets/console.js", "/api/staff/me",
                 "/api/mp/bundles", "/api/departments/v1/sub-applications"):
        headers = browser.call("GET", path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
    page = browser.call("GET", "/console/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in page and "unsafe-inline" not in page
    assert "default-src 'none'" in page


@pytest.mark.parametrize("page", ["login", "agent", "editor", "admin", "forbidden"])
def test_pages_have_no_inline_script_or_style(page):
    from backend.console import PAGES

    html = (PAGES / f"{page}.html").read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html)  # nothing between <script> tags
    assert not re.search(r"\son[a-z]+\s*=", html)  # no onclick= …
    assert not re.search(r"\sstyle\s*=", html) and "<style" not in html
    assert 'lang="zh-CN"' in html


def test_admin_cannot_lock_everyone_out(server, people):
    StaffAccounts()  # the shared DB has other admins; make this one the only enabled one
    sole = people(ADMIN, prefix="sole")
    accounts = StaffAccounts()
    others = [a for a in accounts.list() if a.has(ADMIN) and not a.disabled
              and a.username != sole.username]
    for a in others:
        accounts.update(a.username, disabled=True, actor=Actor("test"))
    try:
        m = logged_in(server, sole)
        path = f"/api/admin/accounts/{sole.username}"
        assert m.call("PATCH", path, {"disabled": True}).error == "last_admin"
        assert m.call("PATCH", path, {"roles": [AGENT]}).status == 409
        assert m.call("GET", "/api/admin/accounts").status == 200
        m.close()
    finally:
        for a in others:
            accounts.update(a.username, disabled=False, actor=Actor("test"))
