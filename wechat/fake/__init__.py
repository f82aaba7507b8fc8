"""A loopback fake of WeChat's API servers (see wechat.fake.server)."""

from wechat.fake.server import FakeWeChat, RemoteFake, openid_for_code

__all__ = ["FakeWeChat", "RemoteFake", "openid_for_code"]
