"""The issue's check, end to end: a follower of the Official Account talks to the real
Rasa + action server stack (WeChat channel, the loopback fake of WeChat's API), asks
for a person; an agent created with `yjs staff add` logs in to a real backend process,
sees the conversation waiting with its bundle, takes it over (Rasa paused); the
follower's next message gets no bot reply and arrives on the console's SSE stream;
the agent's reply reaches the fake WeChat as a customer-service message to that
openid; after release the bot answers again with the context intact. A second agent
gets 409, no session 401, an editor 403, and the audit log lists each step."""

from __future__ import annotations

import json
import os
import queue
import secrets
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.conftest import ROOT
from tests.wechat.channel.conftest import backend_process, wait_for
from tests.wechat.channel.pushes import new_openid

# Agents are on duty whenever this test runs (read by the action server it starts).
os.environ["HANDOFF_HOURS"] = "24x7"


def yjs_staff_add(name: str, *roles: str) -> str:
    password = "pw-" + secrets.token_urlsafe(12)
    cmd = [str(ROOT / ".venv" / "bin" / "yjs"), "staff", "add", name]
    for r in roles:
        cmd += ["--role", r]
    if not os.path.exists(cmd[0]):
        cmd[:1] = [sys.executable, "-m", "bot"]
    subprocess.run(cmd, input=password + "\n", text=True, check=True, cwd=ROOT,
                   capture_output=True)
    return password


@pytest.fixture(scope="module")
def backend(wechat_stack, fake_wechat, tmp_path_factory):
    with backend_process(wechat_stack, fake_wechat, tmp_path_factory.mktemp("backend")) as url:
        yield url


class Staff:
    def __init__(self, base: str, username: str | None = None, password: str | None = None):
        self.base, self.http, self.csrf = base, requests.Session(), None
        if username:
            r = self.http.post(base + "/api/staff/login", json={"username": username,
                                                               "password": password}, timeout=30)
            assert r.status_code == 200, r.text
            self.csrf = r.json()["csrf"]

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, timeout=30)

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        return self.http.post(self.base + path, json=body or {}, headers=headers, timeout=60)

    def stream(self) -> queue.Queue:
        """The console's SSE feed, read in a thread: (event, data) pairs."""
        events: queue.Queue = queue.Queue()

        def read():
            with self.http.get(self.base + "/api/agent/stream", stream=True, timeout=120) as r:
                event = None
                for line in r.iter_lines(decode_unicode=True):
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        events.put((event, json.loads(line[6:]), time.monotonic()))

        threading.Thread(target=read, daemon=True).start()
        return events


def _cs_texts(fake, openid: str) -> list[str]:
    return [m["content"] for m in fake.sent(openid) if m.get("msgtype") == "text"]


def _answer(reply, fake, openid: str, before: int = 0) -> str:
    assert reply.status == 200, reply.body
    if reply.text:
        return reply.text
    return "\n".join(wait_for(lambda: _cs_texts(fake, openid)[before:], timeout=60))


def _slot(stack, sender: str, name: str):
    status, tracker = stack.api("GET", f"/conversations/{sender}/tracker")
    assert status == 200
    return tracker["slots"].get(name), tracker.get("paused")


def test_follower_to_agent_and_back(sim, wechat_stack, wechat, backend):
    agent_name, other_name = f"agent-{secrets.token_hex(3)}", f"agent-{secrets.token_hex(3)}"
    editor_name, admin_name = f"editor-{secrets.token_hex(3)}", f"admin-{secrets.token_hex(3)}"
    agent_pw, other_pw = yjs_staff_add(agent_name, "agent"), yjs_staff_add(other_name, "agent")
    editor_pw, admin_pw = yjs_staff_add(editor_name, "editor"), yjs_staff_add(admin_name, "admin")

    openid = new_openid()
    first = _answer(sim.send(sim.text(openid, "孩子出生要办什么")), wechat, openid)
    assert "出生" in first
    asked = _answer(sim.send(sim.text(openid, "转人工")), wechat, openid)
    assert "人工客服" in asked, asked

    # no session → 401; an editor → 403
    assert requests.get(backend + "/api/agent/conversations", timeout=10).status_code == 401
    editor = Staff(backend, editor_name, editor_pw)
    assert editor.get("/api/agent/conversations?state=waiting").status_code == 403

    agent = Staff(backend, agent_name, agent_pw)
    waiting = agent.get("/api/agent/conversations?state=waiting").json()["conversations"]
    mine = [c for c in waiting if c["citizen"].endswith(openid[-4:]) and c["channel"] == "wechat"]
    assert len(mine) == 1, waiting
    conv = mine[0]
    assert conv["bundle"] == "newborn" and conv["state"] == "waiting"
    assert openid not in json.dumps(waiting)  # the id is opaque, the citizen masked
    cid = conv["id"]

    feed = agent.stream()
    hello = feed.get(timeout=30)
    assert hello[0] == "hello"

    took = agent.post(f"/api/agent/conversations/{cid}/takeover")
    assert took.status_code == 200, took.text
    detail = took.json()
    assert detail["state"] == "agent" and detail["agent"] == agent_name
    assert detail["context"]["bundle"] == "newborn"
    assert any(m["from"] == "citizen" and "转人工" in m["text"] for m in detail["messages"])
    assert detail["wechat"]["open"] is True
    assert _slot(wechat_stack, openid, "bundle") == ("newborn", True)

    other = Staff(backend, other_name, other_pw)
    clash = other.post(f"/api/agent/conversations/{cid}/takeover")
    assert clash.status_code == 409 and clash.json()["held_by"] == agent_name

    # the follower's next message: no bot reply, nothing changes, it shows in the console
    sent_before = len(_cs_texts(wechat, openid))
    said = "结婚登记要带什么材料"
    reply = sim.send(sim.text(openid, said))
    assert reply.status == 200 and reply.text == ""
    deadline, seen = time.monotonic() + 20, None
    while time.monotonic() < deadline and seen is None:
        event, data, _at = feed.get(timeout=20)
        if event == "message" and data["conversation"] == cid and data["message"]["text"] == said:
            seen = data
    assert seen and seen["message"]["from"] == "citizen"
    time.sleep(1.5)
    assert len(_cs_texts(wechat, openid)) == sent_before  # the bot said nothing
    assert _slot(wechat_stack, openid, "bundle") == ("newborn", True)  # slots untouched

    # the agent's reply reaches WeChat as a customer-service message to that openid
    text = "您好，我是12345热线的工作人员，结婚登记需要双方身份证和户口簿。"
    r = agent.post(f"/api/agent/conversations/{cid}/messages", {"text": text})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "sent" and r.json()["wechat"]["allowance"] == 4
    assert text in _cs_texts(wechat, openid)
    assert [c for c in wechat.calls("cgi-bin/message/custom/send")
            if c["body"]["touser"] == openid and c["body"]["text"]["content"] == text]

    # WeChat refuses (the window closed on its side): 502, stored failed, never "sent"
    wechat.set_window(openid, False)
    refused = agent.post(f"/api/agent/conversations/{cid}/messages", {"text": "还在吗？"})
    assert refused.status_code == 502 and refused.json()["sent"]["status"] == "failed"
    assert refused.json()["sent"]["error"] == "wechat_45015"
    shown = agent.get(f"/api/agent/conversations/{cid}").json()["messages"]
    assert [m["status"] for m in shown if m["from"] == "agent"] == ["sent", "failed"]
    assert "还在吗？" not in _cs_texts(wechat, openid)
    wechat.set_window(openid, True)

    # release: the citizen is told, and the bot answers again in context (newborn)
    rel = agent.post(f"/api/agent/conversations/{cid}/release")
    assert rel.status_code == 200, rel.text
    assert rel.json()["state"] == "bot" and rel.json()["citizen_told"] == "sent"
    assert any("智能助手" in t for t in _cs_texts(wechat, openid))
    assert _slot(wechat_stack, openid, "bundle") == ("newborn", False)
    count = len(_cs_texts(wechat, openid))
    after = _answer(sim.send(sim.text(openid, "要带什么材料")), wechat, openid, count)
    assert "出生医学证明" in after or "材料" in after, after

    # the audit log lists each step
    admin = Staff(backend, admin_name, admin_pw)
    entries = admin.get(f"/api/admin/audit?conversation={cid}&limit=50").json()["entries"]
    steps = {(e["action"], e["outcome"], e["actor"]) for e in entries}
    assert ("agent.takeover", "ok", agent_name) in steps
    assert ("agent.takeover", "denied", other_name) in steps
    assert ("agent.message", "ok", agent_name) in steps
    assert ("agent.release", "ok", agent_name) in steps
