"""Real-name verification through the provider protocol (bot.identity.provider),
against the loopback fake: who may verify, what a pass binds, and what cannot be
forged on the way."""

import json
import re
import urllib.request

import pytest

from bot.identity.provider import HttpIdentityProvider, ProviderError, sign
from bot.identity.service import Identities
from tests.conftest import IDENTITY_APP, verify_identity

DEMO_ID, DEMO_NAME = "440106199203151025", "陈晓琳"  # data/demo/citizens.yml
_n = iter(range(10**6))


def mp_sender() -> str:
    return f"mp:oIdent{next(_n):022d}"


def test_a_rest_client_cannot_verify(database_url):
    ids = Identities()
    assert not ids.available("rest-client-1")
    assert ids.start("rest-client-1").state == "unavailable"
    assert ids.available(mp_sender()) and ids.available("o" + "w" * 27)


def test_pass_binds_the_sender_to_that_identity_only(database_url, identity_provider):
    ids, sender = Identities(), mp_sender()
    started = ids.start(sender)
    assert started.state == "pending" and started.url.startswith(identity_provider.base_url)
    assert ids.status(sender).state == "pending"
    assert "核验通过" in verify_identity(identity_provider, started.url, DEMO_ID, DEMO_NAME)
    status = ids.status(sender)
    assert status.state == "passed" and ids.verified_for(sender, DEMO_ID)
    assert not ids.verified_for(sender, "440106199007082018")  # the spouse: not this sender
    assert not ids.verified_for(mp_sender(), DEMO_ID)          # another sender: nothing


def test_wrong_name_fails(database_url, identity_provider):
    ids, sender = Identities(), mp_sender()
    url = ids.start(sender).url
    verify_identity(identity_provider, url, DEMO_ID, "张三")
    assert ids.status(sender).state == "failed" and not ids.verified_for(sender, DEMO_ID)


def test_starting_is_rate_limited_per_sender(database_url):
    ids, sender = Identities(starts_per_hour=2), mp_sender()
    assert [ids.start(sender).state for _ in range(3)] == ["pending", "pending", "limited"]
    assert ids.start(mp_sender()).state == "pending"


def test_the_ticket_and_page_are_encrypted_at_rest(database_url):
    from pathlib import Path

    ids, sender = Identities(), mp_sender()
    url = ids.start(sender).url
    ticket = url.rsplit("/", 1)[1]
    raw = Path(database_url.removeprefix("sqlite:///")).read_bytes()
    wal = Path(database_url.removeprefix("sqlite:///") + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert ticket.encode() not in raw


def test_an_unsigned_or_foreign_answer_is_not_trusted(identity_provider):
    good = HttpIdentityProvider(identity_provider.base_url, *IDENTITY_APP)
    ticket = good.start("ref").ticket
    stranger = HttpIdentityProvider(identity_provider.base_url, IDENTITY_APP[0], "not-the-secret")
    with pytest.raises(ProviderError):   # the fake refuses our request, and we its answer
        stranger.result(ticket)
    body = json.dumps({"biz_token": ticket}).encode()
    req = urllib.request.Request(f"{identity_provider.base_url}/v1/detect-info", data=body,
                                 headers={"X-App-Id": IDENTITY_APP[0], "X-Timestamp": "1",
                                          "X-Nonce": "n", "X-Signature": sign(IDENTITY_APP[1], "1", "n", body)})
    with pytest.raises(urllib.error.HTTPError) as refused:   # a stale request
        urllib.request.urlopen(req, timeout=5)
    assert refused.value.code == 401
    assert re.fullmatch(r"[0-9a-f]{64}", sign("k", "1", "n", b"x"))
