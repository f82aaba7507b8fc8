"""Logging in, as an attacker would try it: unknown users look like wrong passwords
(same answer, about the same time), guessing slows down per username and per
address (and several backends agree, the counts live in the database), passwords
never reach a log or a table in clear; and what the audit log then shows."""

from __future__ import annotations

import logging
import statistics
import time

from sqlalchemy import text

from bot.db import get_engine
from bot.staff import audit
from bot.staff.accounts import ADMIN, AGENT
from bot.staff.throttle import Limits
from tests.backend.conftest import logged_in, serve


def _strip(headers: dict) -> dict:
    return {k: v for k, v in headers.items() if k not in ("Date", "Content-Length")}


def test_unknown_user_and_wrong_password_get_the_same_answer(server, people):
    person = people(AGENT)
    wrong = server.browser().login(person.username, "not-the-password")
    unknown = server.browser().login("nobody-" + person.username, "not-the-password")
    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body == {"error": "bad_credentials",
                                          "message": "用户名或密码错误。"}
    assert _strip(wrong.headers) == _strip(unknown.headers)
    assert wrong.cookies == unknown.cookies == []


def test_unknown_user_costs_a_password_check_too(server, people):
    """Both run one argon2id verification: the time does not say which it was.
    Measured in CPU time of this process (the server runs in it), which other
    work on a shared machine does not stretch the way it stretches wall time."""
    person = people(AGENT)

    def median(name: str) -> float:
        times = []
        for _ in range(Limits.user_free):  # stays under the lock
            b = server.browser()
            start = time.process_time()
            assert b.login(name, "not-the-password").status == 401
            times.append(time.process_time() - start)
            b.close()
        return statistics.median(times)

    known, unknown = median(person.username), median("ghost-" + person.username)
    assert 0.5 < known / unknown < 2.0, (known, unknown)
    assert min(known, unknown) > 0.02  # a real KDF ran (argon2id, 64 MiB)


def test_repeated_failures_for_a_username_slow_down_whoever_tries(server, people):
    person = people(AGENT)
    for name in (person.username, "ghost-" + person.username):  # existing or not: the same
        for _ in range(Limits.user_free):
            assert server.browser().login(name, "guess").status == 401
        reply = server.browser().login(name, "guess")  # a new address each time
        assert reply.status == 401  # the first failure over the allowance…
        locked = server.browser().login(name, person.password)
        assert locked.status == 429 and locked.error == "throttled"  # …locks: even the right password
        assert int(locked.headers["Retry-After"]) >= 1
    time.sleep(1.2)  # the first lock is 1 s
    ok = server.browser().login(person.username, person.password)
    assert ok.status == 200  # and a success clears the username's count
    assert server.browser().login(person.username, "guess").status == 401


def test_repeated_failures_from_one_address_slow_it_down(server, people):
    person = people(AGENT)
    attacker = server.browser()
    for i in range(Limits.ip_free + 1):
        assert attacker.login(f"spray{i}-{person.username}", "guess").status == 401
    assert attacker.login(person.username, person.password).status == 429
    assert server.browser().login(person.username, person.password).status == 200  # other address


def test_throttling_is_shared_by_every_backend_process(loop, kb, trusted_proxy, server, people):
    """Two backends (each its own service objects, one database) count together."""
    person = people(AGENT)
    other = serve(loop, kb)
    try:
        for _ in range(Limits.user_free + 1):
            assert server.browser().login(person.username, "guess").status == 401
        assert other.browser().login(person.username, person.password).status == 429
        time.sleep(1.2)  # the first lock (1 s) is over; one more failure, on the other backend…
        assert other.browser().login(person.username, "guess").status == 401
        assert server.browser().login(person.username, person.password).status == 429  # …counts here
    finally:
        other.close()


def test_logins_logouts_and_failures_are_audited_with_who_and_where(server, people):
    person = people(AGENT)
    b = server.browser(ip="192.0.2.77")
    assert b.login(person.username, "wrong").status == 401
    assert b.login(person.username, person.password).status == 200
    assert b.call("POST", "/api/staff/logout", {}).status == 200
    entries = audit.entries(actor=person.username)
    got = [(e.action, e.outcome, e.ip) for e in reversed(entries)]
    assert got == [(audit.LOGIN, "failed", "192.0.2.77"), (audit.LOGIN, "ok", "192.0.2.77"),
                   (audit.LOGOUT, "ok", "192.0.2.77")]
    assert entries[-1].detail == {"reason": "bad_credentials"}


def test_passwords_never_reach_a_log_or_a_table(server, people, caplog):
    caplog.set_level(logging.DEBUG)
    admin = people(ADMIN)
    secret_a, secret_b, secret_c = "Zq9-never-logged-A", "Zq9-never-logged-B", "Zq9-never-logged-C"
    m = logged_in(server, admin)
    assert m.call("POST", "/api/admin/accounts", {"username": "pwtest-" + admin.username[-6:],
                                                   "password": secret_a, "roles": [AGENT]}).status == 201
    name = "pwtest-" + admin.username[-6:]
    assert m.call("PATCH", f"/api/admin/accounts/{name}", {"password": secret_b}).status == 200
    b = server.browser()
    assert b.login(name, secret_c).status == 401
    assert b.login(name, secret_b).status == 200
    assert b.call("POST", "/api/staff/password", {"current": secret_b, "new": secret_c}).status == 200
    dump = caplog.text
    with get_engine().connect() as conn:
        for table in ("audit_log", "staff_accounts", "staff_sessions", "staff_login_throttle"):
            dump += repr(conn.execute(text(f"SELECT * FROM {table}")).fetchall())
        stored = conn.execute(text("SELECT password_hash FROM staff_accounts WHERE username = :u"),
                              {"u": name}).scalar_one()
    for secret in (secret_a, secret_b, secret_c):
        assert secret not in dump
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    m.close()
    b.close()


def test_admin_account_api_validates_and_audits(server, people):
    admin = people(ADMIN)
    m = logged_in(server, admin)
    base = "/api/admin/accounts"
    name = "new-" + admin.username[-6:]
    for body, status, code in (
            ({"username": "Bad Name!", "password": "p", "roles": [AGENT]}, 422, "bad_username"),
            ({"username": name, "password": "p", "roles": ["root"]}, 422, "bad_role"),
            ({"username": name, "password": "p", "roles": []}, 422, "no_role"),
            ({"username": name, "password": "", "roles": [AGENT]}, 422, "empty_password"),
            ({"username": name, "roles": [AGENT]}, 400, "bad_request"),
            ({"username": name, "password": "p", "roles": "agent"}, 400, "bad_request")):
        reply = m.call("POST", base, body)
        assert (reply.status, reply.error) == (status, code), body
        assert reply.body["message"]
    created = m.call("POST", base, {"username": name.upper(), "password": "p1-long-enough",
                                    "roles": [AGENT, ADMIN, AGENT], "display_name": " 张  伟 "})
    assert created.status == 201
    assert created.body["username"] == name and created.body["roles"] == [AGENT, ADMIN]
    assert created.body["display_name"] == "张 伟" and "password" not in str(created.body)
    assert m.call("POST", base, {"username": name, "password": "p", "roles": [AGENT]}).status == 409
    assert m.call("PATCH", f"{base}/nobody-at-all", {"disabled": True}).status == 404
    assert m.call("PATCH", f"{base}/{name}", {"disabled": "yes"}).status == 400
    listed = m.call("GET", base).body["accounts"]
    assert any(a["username"] == name and a["roles"] == [AGENT, ADMIN] for a in listed)
    changed = m.call("PATCH", f"{base}/{name}", {"roles": [AGENT]})
    assert changed.status == 200 and changed.body["roles"] == [AGENT]
    [update, create] = audit.entries(target=name)
    assert (create.action, create.actor, create.detail) == (
        audit.ACCOUNT_CREATED, admin.username, {"roles": [AGENT, ADMIN]})
    assert update.action == audit.ACCOUNT_UPDATED
    assert update.detail == {"roles": {"from": [AGENT, ADMIN], "to": [AGENT]}}
    m.close()


def test_admins_read_the_audit_log_with_filters_and_pages(server, people):
    admin, agent = people(ADMIN), people(AGENT)
    m = logged_in(server, admin)
    for _ in range(3):
        server.browser().login(agent.username, "wrong")
    logged_in(server, agent).close()
    reply = m.call("GET", f"/api/admin/audit?actor={agent.username}&limit=2")
    assert reply.status == 200 and len(reply.body["entries"]) == 2 and reply.body["next"]
    first = reply.body["entries"]
    assert first[0]["action"] == audit.LOGIN and first[0]["outcome"] == "ok"
    rest = m.call("GET", f"/api/admin/audit?actor={agent.username}&limit=2"
                         f"&before={reply.body['next']}").body
    assert len(rest["entries"]) == 2 and rest["next"] is None
    assert [e["outcome"] for e in rest["entries"]] == ["failed", "failed"]
    assert first[-1]["id"] > rest["entries"][0]["id"]
    failed = m.call("GET", f"/api/admin/audit?actor={agent.username}&outcome=failed").body
    assert len(failed["entries"]) == 3
    area = m.call("GET", f"/api/admin/audit?action=staff.&actor={agent.username}").body
    assert len(area["entries"]) == 4
    assert m.call("GET", "/api/admin/audit?since=not-a-date").status == 400
    assert m.call("GET", "/api/admin/audit?before=x").status == 400
    since = m.call("GET", "/api/admin/audit?since=2999-01-01T00:00:00Z").body
    assert since["entries"] == []
    actions = m.call("GET", "/api/admin/audit/actions").body["actions"]
    assert {audit.LOGIN, audit.AUDIT_READ} <= set(actions)
    # reading the log is itself in the log
    assert audit.entries(actor=admin.username, action=audit.AUDIT_READ)
    m.close()
