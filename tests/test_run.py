"""`make run`'s supervisor: serves the contract's endpoints and stops cleanly.
Run here in its WeChat=fake mode, so both WeChat doors are exercised as wired."""

import json
import os
import signal
import stat
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT, free_port, wait_http

pytestmark = pytest.mark.model


def post(url: str, body: dict) -> tuple[int, object]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, None


FAKE_ENV: dict[str, str] = {}  # what `make run WECHAT=fake` generated
VAR: dict[str, object] = {}


@pytest.fixture(scope="module")
def served(model_path, database_url, tmp_path_factory):
    rasa_port, actions_port, console_port = free_port(), free_port(), free_port()
    var_dir = tmp_path_factory.mktemp("var")
    env = {**os.environ, "RASA_PORT": str(rasa_port), "ACTIONS_PORT": str(actions_port),
           "CONSOLE_PORT": str(console_port), "WECHAT": "fake",
           "WECHAT_FAKE_PORT": str(free_port()), "IDENTITY_FAKE_PORT": str(free_port()),
           "DATABASE_URL": database_url, "YJS_VAR_DIR": str(var_dir)}
    for name in ("RASA_TOKEN", "IDENTITY_API_BASE", "IDENTITY_APP_ID", "IDENTITY_SECRET"):
        env.pop(name, None)  # as on a fresh clone: make run generates what it needs
    VAR["dir"] = var_dir
    proc = subprocess.Popen([sys.executable, "-m", "bot.run"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_http(f"http://127.0.0.1:{rasa_port}/", proc, timeout=300)
        wait_http(f"http://127.0.0.1:{actions_port}/health", proc, timeout=120)
        wait_http(f"http://127.0.0.1:{console_port}/healthz", proc, timeout=120)
        FAKE_ENV.update(line.split("=", 1) for line in
                        (var_dir / "wechat-fake.env").read_text().split())
        yield proc, rasa_port, actions_port, console_port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)


def test_rest_webhook_answers(served):
    _, rasa_port, _, _ = served
    status, messages = post(f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook",
                            {"sender": "run-test", "message": "我爸走了后面要办啥"})
    assert status == 200
    text = "\n".join(m.get("text", "") for m in messages)
    assert "公民身后" in text and "出具火化证明" in text


def test_parse_requires_the_generated_token(served):
    _, rasa_port, _, _ = served
    token_file = VAR["dir"] / "rasa-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert len(token) >= 32
    status, _ = post(f"http://127.0.0.1:{rasa_port}/model/parse", {"text": "生娃了"})
    assert status == 401
    status, result = post(f"http://127.0.0.1:{rasa_port}/model/parse?token={token}", {"text": "生娃了"})
    assert status == 200 and result["entities"][0]["value"] == "newborn"


def test_everything_under_var_is_private(served):
    var_dir = VAR["dir"]
    assert stat.S_IMODE(var_dir.stat().st_mode) == 0o700
    files = [p for p in var_dir.rglob("*") if p.is_file()]
    assert {"tracker.db", "endpoints.yml", "rasa-token", "wechat-fake.env",
            "identity-fake.env"} <= {p.name for p in files}
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == \
        {p.name: "0o600" for p in files}


def test_production_refuses_to_start_without_explicit_secrets(tmp_path):
    env = {**os.environ, "YJS_ENV": "production", "YJS_VAR_DIR": str(tmp_path)}
    env.pop("RASA_TOKEN", None)
    for cmd in ([sys.executable, "-m", "bot.run"], [sys.executable, "-m", "bot.rasa_server"]):
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "RASA_TOKEN" in done.stderr, done.stderr[-500:]
    env.pop("YJS_DATA_KEY")
    done = subprocess.run([sys.executable, "-m", "bot.run"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "YJS_DATA_KEY" in done.stderr
    assert not (tmp_path / "rasa-token").exists()


def test_backend_health(served):
    *_, console_port = served
    with urllib.request.urlopen(f"http://127.0.0.1:{console_port}/healthz", timeout=5) as resp:
        assert resp.status == 200 and json.loads(resp.read()) == {"status": "ok"}


def test_official_account_push_gets_a_passive_reply(served):
    from tests.wechat.channel.pushes import WeChatSim, new_openid

    _, rasa_port, _, _ = served
    sim = WeChatSim(url=f"http://127.0.0.1:{rasa_port}/webhooks/wechat/webhook",
                    token=FAKE_ENV["WECHAT_TOKEN"], aes_key=FAKE_ENV["WECHAT_AES_KEY"],
                    appid=FAKE_ENV["WECHAT_APPID"])
    reply = sim.send(sim.text(new_openid(), "孩子出生要办什么"), safe=True)
    assert reply.status == 200 and "新生儿出生" in reply.text


def test_mini_program_login_and_chat_through_the_fake(served):
    *_, console_port = served
    base = f"http://127.0.0.1:{console_port}/api/mp"
    status, login = post(f"{base}/login", {"code": "run-test-code"})
    assert status == 200 and login["token"]
    req = urllib.request.Request(f"{base}/chat", method="POST",
                                 data=json.dumps({"message": "我爸走了后面要办啥"}).encode(),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {login['token']}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        answer = json.loads(resp.read())
    assert "公民身后" in "\n".join(m["text"] for m in answer["messages"])


def test_ctrl_c_stops_all(served):
    proc, rasa_port, actions_port, console_port = served
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    assert "yjs staff add" in proc.stderr.read().decode()  # how to create a console account
    for port in (rasa_port, actions_port, console_port):
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
