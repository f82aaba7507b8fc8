"""`make run`'s supervisor: serves the contract's endpoints and stops cleanly."""

import json
import os
import signal
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


@pytest.fixture(scope="module")
def served(model_path, database_url, tmp_path_factory):
    rasa_port, actions_port, console_port = free_port(), free_port(), free_port()
    env = {**os.environ, "RASA_PORT": str(rasa_port), "ACTIONS_PORT": str(actions_port),
           "CONSOLE_PORT": str(console_port),
           "DATABASE_URL": database_url, "RASA_TOKEN": "s3cret",
           "YJS_VAR_DIR": str(tmp_path_factory.mktemp("var"))}
    proc = subprocess.Popen([sys.executable, "-m", "bot.run"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_http(f"http://127.0.0.1:{rasa_port}/", proc, timeout=300)
        wait_http(f"http://127.0.0.1:{actions_port}/health", proc, timeout=120)
        wait_http(f"http://127.0.0.1:{console_port}/healthz", proc, timeout=120)
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


def test_parse_requires_token_when_configured(served):
    _, rasa_port, _, _ = served
    status, _ = post(f"http://127.0.0.1:{rasa_port}/model/parse", {"text": "生娃了"})
    assert status == 401
    status, result = post(f"http://127.0.0.1:{rasa_port}/model/parse?token=s3cret", {"text": "生娃了"})
    assert status == 200 and result["entities"][0]["value"] == "newborn"


def test_backend_health(served):
    *_, console_port = served
    with urllib.request.urlopen(f"http://127.0.0.1:{console_port}/healthz", timeout=5) as resp:
        assert resp.status == 200 and json.loads(resp.read()) == {"status": "ok"}


def test_ctrl_c_stops_all(served):
    proc, rasa_port, actions_port, console_port = served
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    for port in (rasa_port, actions_port, console_port):
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
