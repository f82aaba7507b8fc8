"""`make run WECHAT=fake`: WeChat credentials for a local fake of WeChat's servers.

The Official Account and mini-program ids, secrets, push token and EncodingAESKey
are generated once and kept in var/wechat-fake.env, so a developer (or a script
signing pushes the way WeChat does) can reuse them across restarts.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

FAKE_PORT = 9100


def _generate() -> dict[str, str]:
    return {
        "WECHAT_APPID": "wxfakeoa" + secrets.token_hex(5),
        "WECHAT_SECRET": secrets.token_hex(16),
        "WECHAT_TOKEN": secrets.token_hex(8),
        "WECHAT_AES_KEY": base64.b64encode(secrets.token_bytes(32)).decode()[:43],
        "WECHAT_MP_APPID": "wxfakemp" + secrets.token_hex(5),
        "WECHAT_MP_SECRET": secrets.token_hex(16),
    }


def fake_env(var_dir: Path, port: int | None = None) -> dict[str, str]:
    """The WECHAT_* variables pointing every client at the local fake on `port`."""
    path = var_dir / "wechat-fake.env"
    if path.exists():
        values = dict(line.split("=", 1) for line in path.read_text().split() if "=" in line)
    else:
        values = _generate()
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        os.chmod(path, 0o600)
    port = port or int(os.environ.get("WECHAT_FAKE_PORT", FAKE_PORT))
    values["WECHAT_API_BASE"] = f"http://127.0.0.1:{port}"
    return values


def fake_cmd(env: dict[str, str], python: str) -> list[str]:
    port = env["WECHAT_API_BASE"].rsplit(":", 1)[1]
    return [python, "-m", "wechat.fake", "--port", port,
            "--app", f"{env['WECHAT_APPID']}:{env['WECHAT_SECRET']}",
            "--app", f"{env['WECHAT_MP_APPID']}:{env['WECHAT_MP_SECRET']}"]
