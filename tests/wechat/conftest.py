"""WeChat test fixtures (owner: helper A). Names are stable; other WeChat tests use them.

fake_wechat (session)
    A running ``wechat.fake.FakeWeChat`` (loopback HTTP, own thread and event loop)
    with two apps: the Official Account ``fake_wechat.oa = (appid, secret)`` and the
    mini-program ``fake_wechat.mp = (appid, secret)`` (its appid contains "mp").
    ``fake_wechat.base_url`` is what WECHAT_API_BASE must point to. It is *not*
    reset between tests by itself: use ``wechat`` for that.
wechat (function)
    The same fake, reset before the test (tokens, recorded calls, sent messages,
    injected failures, delays, windows, quotas, token TTL) and with the shared
    access_token cache (table wechat_tokens) emptied. Needs the migrated test
    database (``database_url``).
wechat_settings (function)
    ``WeChatSettings`` pointing at the fake: OA and MP credentials, push token
    ``PUSH_TOKEN``, the AES key from WeChat's documentation sample, and the status
    subscribe template ``STATUS_TEMPLATE``.
wechat_env (function)
    The same settings as environment variables (for a server subprocess).
run (plain function, also a fixture)
    ``run(coro)`` runs a coroutine in a fresh event loop (no pytest-asyncio here).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from wechat.config import WeChatSettings
from wechat.fake import FakeWeChat

OA_APPID, OA_SECRET = "wxoa00000000000a01", "oa-secret-0123456789abcdef01234567"
MP_APPID, MP_SECRET = "wxmp00000000000b02", "mp-secret-0123456789abcdef01234567"
PUSH_TOKEN = "yjs-test-push-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # WeChat's documented sample key
STATUS_TEMPLATE = "tmpl-status-0001"


def run(coro):
    """Run ``coro`` to completion in a fresh event loop."""
    return asyncio.run(coro)


@pytest.fixture(name="run")
def run_fixture():
    return run


@pytest.fixture(scope="session")
def fake_wechat():
    fake = FakeWeChat({OA_APPID: OA_SECRET, MP_APPID: MP_SECRET})
    fake.start()
    fake.oa = (OA_APPID, OA_SECRET)
    fake.mp = (MP_APPID, MP_SECRET)
    yield fake
    fake.stop()


@pytest.fixture
def wechat(fake_wechat, database_url):
    from sqlalchemy import update

    from bot.clock import now
    from bot.db import session_scope
    from bot.models import OutboxMessage, WeChatToken

    fake_wechat.reset()
    with session_scope() as session:
        # Forget cached tokens the way an operator would, keeping generations monotonic
        # (server processes of other tests may still hold the row).
        session.execute(update(WeChatToken).values(
            ciphertext=None, expires_at=None, lease_owner=None, lease_until=None,
            generation=WeChatToken.generation + 1))
        # Notifications left by earlier tests sharing this database are not ours to
        # deliver: close them so each test's sender sees only its own rows.
        session.execute(update(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
                        .values(sent_at=now(), delivered_via="none"))
    yield fake_wechat


@pytest.fixture
def wechat_settings(fake_wechat) -> WeChatSettings:
    return WeChatSettings(appid=OA_APPID, secret=OA_SECRET, token=PUSH_TOKEN, aes_key=AES_KEY,
                          mp_appid=MP_APPID, mp_secret=MP_SECRET, api_base=fake_wechat.base_url,
                          mp_templates={"status": STATUS_TEMPLATE})


@pytest.fixture
def wechat_env(fake_wechat) -> dict[str, str]:
    return {**os.environ, "WECHAT_APPID": OA_APPID, "WECHAT_SECRET": OA_SECRET,
            "WECHAT_TOKEN": PUSH_TOKEN, "WECHAT_AES_KEY": AES_KEY,
            "WECHAT_MP_APPID": MP_APPID, "WECHAT_MP_SECRET": MP_SECRET,
            "WECHAT_MP_STATUS_TEMPLATE": STATUS_TEMPLATE,
            "WECHAT_API_BASE": fake_wechat.base_url}
