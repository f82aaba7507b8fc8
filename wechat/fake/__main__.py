"""python -m wechat.fake --port 9100 --app wxOA:secret --app wxMP:secret

Runs the fake of api.weixin.qq.com in the foreground (for `make run` without WeChat:
point WECHAT_API_BASE at it). Controls are under /__fake__/ (see wechat.fake.server).
"""

from __future__ import annotations

import argparse
import logging

from wechat.fake.server import FakeWeChat


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m wechat.fake", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--app", action="append", default=[], metavar="APPID:SECRET",
                        help="an app the fake accepts (repeat for the Official Account and "
                             "the mini-program)")
    parser.add_argument("--token-ttl", type=float, default=7200.0)
    args = parser.parse_args(argv)
    apps = {}
    for spec in args.app:
        appid, sep, secret = spec.partition(":")
        if not sep or not appid or not secret:
            parser.error(f"--app expects APPID:SECRET, got {spec!r}")
        apps[appid] = secret
    if not apps:
        parser.error("give at least one --app APPID:SECRET")
    logging.basicConfig(level=logging.INFO)
    FakeWeChat(apps, token_ttl=args.token_ttl).serve_forever(args.host, args.port)


if __name__ == "__main__":
    main()
