"""The fake itself: documented JSON and error codes, and its controls over HTTP when it
runs as its own process (`python -m wechat.fake`)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import ROOT, free_port, wait_http
from wechat.api import RetryPolicy, WeChatClient
from wechat.fake import RemoteFake, openid_for_code

FAST = RetryPolicy(attempts=3, base=0.02, cap=0.05)
USER = openid_for_code("fake-tests-user")


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def test_fake_enforces_the_access_token_like_wechat(wechat):
    base = wechat.base_url
    appid, secret = wechat.oa
    send = f"{base}/cgi-bin/message/custom/send?access_token="
    msg = {"touser": USER, "msgtype": "text", "text": {"content": "hi"}}
    assert _post(send + "garbage", msg)["errcode"] == 40001
    assert _post(f"{base}/cgi-bin/message/custom/send", msg)["errcode"] == 41001
    assert _post(f"{base}/cgi-bin/stable_token", {"grant_type": "client_credential",
                                                  "appid": appid, "secret": "x"})["errcode"] == 40125
    stable = _post(f"{base}/cgi-bin/stable_token", {"grant_type": "client_credential",
                                                    "appid": appid, "secret": secret})
    again = _post(f"{base}/cgi-bin/stable_token", {"grant_type": "client_credential",
                                                   "appid": appid, "secret": secret})
    assert stable["access_token"] == again["access_token"] and stable["expires_in"] == 7200
    assert _post(send + stable["access_token"], msg) == {"errcode": 0, "errmsg": "ok"}
    forced = _post(f"{base}/cgi-bin/stable_token", {"grant_type": "client_credential",
                                                    "appid": appid, "secret": secret,
                                                    "force_refresh": True})
    assert _post(send + stable["access_token"], msg)["errcode"] == 40001  # replaced
    wechat.expire_tokens()
    assert _post(send + forced["access_token"], msg)["errcode"] == 42001
    token_url = f"{base}/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={secret}"
    first, second = _get(token_url)["access_token"], _get(token_url)["access_token"]
    assert _post(send + first, msg)["errcode"] == 40001  # each fresh fetch replaces the old one
    too_long = {**msg, "text": {"content": "长" * 700}}  # 2100 bytes
    assert _post(send + second, too_long)["errcode"] == 45002
    assert [m["content"] for m in wechat.sent(USER)] == ["hi"]
    assert all("secret" not in c["params"] and "access_token" not in c["params"]
               for c in wechat.calls())


@pytest.fixture
def fake_process():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "wechat.fake", "--port", str(port),
                             "--app", "wxremote000000001:remote-secret"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/__fake__/calls", proc, timeout=60)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def test_fake_as_a_process_driven_over_http(fake_process, database_url, run):
    remote = RemoteFake(fake_process)
    remote.fail_next("/cgi-bin/message/custom/send", -1)

    async def main():
        async with WeChatClient("wxremote000000001", "remote-secret", fake_process,
                                retry=FAST) as client:
            await client.custom.send_text(USER, "远程")
            remote.expire_tokens()
            await client.custom.send_text(USER, "过期后")

    run(main())
    assert [m["content"] for m in remote.sent(USER)] == ["远程", "过期后"]
    assert [c["errcode"] for c in remote.calls("/cgi-bin/message/custom/send")] == [-1, 0, 42001, 0]
    assert remote.openid_for_code("abc") == _get(f"{fake_process}/__fake__/openid?code=abc")["openid"]
    remote.reset()
    assert remote.calls() == []
