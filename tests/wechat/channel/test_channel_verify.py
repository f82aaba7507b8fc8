"""The Official Account channel's verification step on its own (no server): which
pushes pass, in which mode."""

from types import SimpleNamespace

import pytest

from bot.nonces import OTHER, SAME, digest
from channels.wechat import WeChatInput
from tests.wechat.channel.pushes import WeChatSim, new_aes_key, new_openid
from wechat.config import WeChatSettings
from wechat.crypto import Refused
from wechat.xml import BadXML

APPID = "wx0123456789abcdef"


def _channel(aes_key: str = "") -> tuple[WeChatInput, WeChatSim]:
    sim = WeChatSim("http://unused", token="tok-verify", aes_key=aes_key or new_aes_key(),
                    appid=APPID)
    return WeChatInput(WeChatSettings(token=sim.token, aes_key=aes_key, appid=APPID)), sim


def _verify(channel: WeChatInput, query: dict, body: bytes):
    return channel._verify(SimpleNamespace(args=query), body, 0.0)


def test_plain_mode_without_an_aes_key_is_accepted():
    channel, sim = _channel()
    openid = new_openid()
    push, safe, _, replay_key = _verify(channel, *sim.signed(sim.text(openid, "你好"), safe=False))
    assert (push.openid, push.text, safe) == (openid, "你好", False)
    assert push.key.startswith(f"msg:{openid}:")


def test_with_an_aes_key_plain_mode_is_refused_and_safe_mode_accepted():
    key = new_aes_key()
    channel, sim = _channel(key)
    with pytest.raises(Refused):
        _verify(channel, *sim.signed(sim.text(new_openid(), "你好"), safe=False))
    push, safe, _, _ = _verify(channel, *sim.signed(sim.text(new_openid(), "你好")))
    assert safe and push.text == "你好"


def test_a_sender_that_is_not_an_openid_is_refused():
    channel, sim = _channel()
    with pytest.raises(BadXML):
        _verify(channel, *sim.signed(sim.text("alice", "你好"), safe=False))


def test_plain_mode_signature_reused_for_another_body_is_a_replay(database_url):
    """Plain `signature` does not cover the body: the nonce table is what ties a
    (timestamp, nonce) to the one request it came with."""
    channel, sim = _channel()
    query, body = sim.signed(sim.text(new_openid(), "你好"), safe=False)
    *_, replay_key = _verify(channel, query, body)
    channel.nonces.use(replay_key, digest(body, "q"))
    forged = sim.text(new_openid(), "我的申请到哪了").encode()
    _verify(channel, query, forged)  # the signature alone would let it through …
    assert channel.nonces.use(replay_key, digest(forged, "q")) == OTHER  # … the nonce does not
    assert channel.nonces.use(replay_key, digest(body, "q")) == SAME     # WeChat's own retry
