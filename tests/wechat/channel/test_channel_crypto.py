"""wechat/crypto.py against WeChat's published samples and pushes built as WeChat does."""

from __future__ import annotations

import re

import pytest

from tests.wechat.channel.pushes import (
    FIXTURES,
    WeChatSim,
    new_aes_key,
    official_samples,
    wechat_signature,
)
from wechat.config import WeChatSettings
from wechat.crypto import (
    BadSignature,
    PushCrypto,
    Stale,
    Undecryptable,
    sign,
)
from wechat.xml import parse, parse_dict


def _crypto(sample: dict, now: float, previous: str = "", skew: int = 300) -> PushCrypto:
    settings = WeChatSettings(token=sample["token"], aes_key=sample["encoding_aes_key"],
                              aes_key_previous=previous, appid=sample["appid"],
                              max_clock_skew=skew)
    return PushCrypto(settings, clock=lambda: now)


def test_official_python_sample_verifies_and_decrypts():
    s = official_samples()["python_sample"]
    crypto = _crypto(s, now=int(s["timestamp"]) + 2)
    body = (FIXTURES / s["file"]).read_text()
    encrypt = parse_dict(body)["Encrypt"]
    assert sign(s["token"], s["timestamp"], s["nonce"], encrypt) == s["msg_signature"]
    crypto.verify(timestamp=s["timestamp"], nonce=s["nonce"], signature=None,
                  msg_signature=s["msg_signature"], encrypt=encrypt)
    inner = crypto.decrypt(encrypt)
    assert inner == s["plaintext"]
    msg = parse(inner)
    assert (msg.type, msg.content, msg.source) == ("text", "abcdteT", "oyORnuP8q7ou2gfYjqLzSIWZf0rs")


def test_official_cpp_sample_verifies_and_decrypts():
    s = official_samples()["cpp_sample"]
    crypto = _crypto(s, now=int(s["timestamp"]))
    encrypt = parse_dict((FIXTURES / s["file"]).read_text())["Encrypt"]
    crypto.check_msg_signature(s["msg_signature"], s["timestamp"], s["nonce"], encrypt)
    assert "<Content><![CDATA[abcdteT]]></Content>" in crypto.decrypt(encrypt)


def test_official_samples_are_stale_now():
    """The published samples are from 2014: replayed today they are refused."""
    s = official_samples()["python_sample"]
    crypto = _crypto(s, now=1_800_000_000)
    with pytest.raises(Stale):
        crypto.check_fresh(s["timestamp"])


def test_reply_encryption_matches_the_official_java_sample(monkeypatch):
    s = official_samples()["java_encrypt_sample"]
    from wechatpy.crypto import PrpCrypto

    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: s["random"])
    crypto = _crypto(s, now=1409304348)
    reply = (FIXTURES / s["reply_file"]).read_text()
    envelope = crypto.encrypt_reply(reply, nonce="xxxxxx", timestamp="1409304348")
    fields = parse_dict(envelope)
    assert fields["Encrypt"] == s["reply_cipher"]
    assert fields["MsgSignature"] == wechat_signature(s["token"], "1409304348", "xxxxxx",
                                                      s["reply_cipher"])


def _sim() -> tuple[WeChatSim, PushCrypto]:
    sim = WeChatSim("http://unused", token="tok-" + new_aes_key()[:8], aes_key=new_aes_key(),
                    appid="wx0123456789abcdef")
    settings = WeChatSettings(token=sim.token, aes_key=sim.aes_key, appid=sim.appid)
    return sim, PushCrypto(settings)


def _open(crypto: PushCrypto, query: dict, body: bytes) -> str:
    encrypt = parse_dict(body)["Encrypt"]
    crypto.verify(timestamp=query["timestamp"], nonce=query["nonce"],
                  signature=query.get("signature"), msg_signature=query.get("msg_signature"),
                  encrypt=encrypt)
    return crypto.decrypt(encrypt)


def test_safe_mode_roundtrip():
    """Opening the same push twice works: a byte-identical retry is WeChat's own,
    and the channel answers it (replays are the nonce table's business, bot.nonces)."""
    sim, crypto = _sim()
    query, body = sim.signed(sim.text("o" + "a" * 27, "孩子出生要办什么"))
    assert "孩子出生要办什么" in _open(crypto, query, body)
    assert "孩子出生要办什么" in _open(crypto, query, body)


@pytest.mark.parametrize("field", ["signature", "msg_signature", "timestamp", "nonce"])
def test_any_tampered_parameter_is_refused(field):
    sim, crypto = _sim()
    query, body = sim.signed(sim.text("o" + "b" * 27, "你好"))
    query[field] = "1" + query[field][1:] if query[field][0] != "1" else "2" + query[field][1:]
    with pytest.raises((BadSignature, Stale)):
        _open(crypto, query, body)


def test_tampered_ciphertext_is_refused():
    sim, crypto = _sim()
    query, body = sim.signed(sim.text("o" + "c" * 27, "你好"))
    body = re.sub(rb"CDATA\[(.)", lambda m: b"CDATA[" + (b"B" if m.group(1) != b"B" else b"C"),
                  body.replace(b"<ToUserName>", b"<ToUserName>", 1), count=2)
    with pytest.raises(BadSignature):
        _open(crypto, query, body)


def test_stale_and_future_timestamps_are_refused():
    sim, crypto = _sim()
    for offset in (-301, 301):
        import time

        query, body = sim.signed(sim.text("o" + "d" * 27, "你好"),
                                 timestamp=int(time.time()) + offset)
        with pytest.raises(Stale):
            _open(crypto, query, body)


def test_previous_key_accepted_during_rotation_unknown_key_refused():
    sim, _ = _sim()
    old, unknown = new_aes_key(), new_aes_key()
    settings = WeChatSettings(token=sim.token, aes_key=sim.aes_key, aes_key_previous=old,
                              appid=sim.appid)
    crypto = PushCrypto(settings)
    query, body = sim.signed(sim.text("o" + "e" * 27, "旧密钥"), key=old)
    assert "旧密钥" in _open(crypto, query, body)
    query, body = sim.signed(sim.text("o" + "e" * 27, "未知密钥"), key=unknown)
    with pytest.raises(Undecryptable):
        _open(crypto, query, body)


def test_ciphertext_sealed_for_another_appid_is_refused():
    sim, crypto = _sim()
    query, body = sim.signed(sim.text("o" + "f" * 27, "别人的"), appid="wxffffffffffffffff")
    with pytest.raises(Undecryptable):
        _open(crypto, query, body)


def test_plain_signature_is_constant_time_and_case_insensitive():
    sim, crypto = _sim()
    sig = wechat_signature(sim.token, "1700000000", "42")
    crypto.check_signature(sig.upper(), "1700000000", "42")
    with pytest.raises(BadSignature):
        crypto.check_signature(None, "1700000000", "42")
    with pytest.raises(BadSignature):
        crypto.check_signature(sig[:-1], "1700000000", "42")


def test_bad_encoding_aes_key_is_a_configuration_error():
    with pytest.raises(ValueError):
        PushCrypto(WeChatSettings(token="t", aes_key="short", appid="wx1"))
