"""Our rasa_sdk plugin: the action server refuses anyone but our Rasa server.

rasa_sdk looks for a package of exactly this name and calls `init_hooks`; its
hook `attach_sanic_app_extensions` is its own way of adding middleware, so the
action server is still started as `python -m rasa_sdk --actions actions`. With
rasa_sdk's own settings (bot.run sets them): SANIC_HOST=127.0.0.1 (listen on
loopback; ACTIONS_HOST to change it) and no `--cors` (no cross-origin access).
What rasa_sdk has no setting for, this plugin adds:

* a shared secret: every call but GET /health must carry
  `Authorization: Bearer <secret>`, the header Rasa's `action_endpoint` sends
  (bot.run writes it into endpoints.yml); the secret is derived from the data key
  (bot.config.actions_secret), so there is nothing else to configure;
* the knowledge base's content hash is read once per call (bot.kb.service
  caches the content in between), so an answer always follows published content;
* request size: at most ACTIONS_MAX_BODY bytes (4 MiB) as sent, and — rasa_sdk
  inflates `Content-Encoding: deflate` bodies without limit — at most
  ACTIONS_MAX_INFLATED (16 MiB) once decompressed; other encodings are refused;
* ACTIONS_CALL_LOG=<file> (off unless set): one JSON line per action call,
  `{"sender": …, "action": …}`, so a test or benchmark can count what a turn
  costs in calls (tests/dialogue/test_form_calls.py, benchmarks/turns.py).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import zlib

import pluggy
from sanic import Sanic, response
from sanic.request import Request

hookimpl = pluggy.HookimplMarker("rasa_sdk")
logger = logging.getLogger("rasa_sdk_plugins")

MAX_BODY = int(os.environ.get("ACTIONS_MAX_BODY") or 4 * 1024 * 1024)
MAX_INFLATED = int(os.environ.get("ACTIONS_MAX_INFLATED") or 16 * 1024 * 1024)
OPEN_PATHS = frozenset({"/health"})


def _refuse(status: int, error: str) -> response.HTTPResponse:
    return response.json({"error": error}, status=status)


def inflate(body: bytes, limit: int) -> bytes | None:
    """`body` decompressed (zlib/deflate), or None when it would exceed `limit`."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        return None
    return out + inflater.flush()


def pin_content_version(request: Request) -> None:
    """Answer this call from the content version of the model that understood the turn
    (bot.content.pinning; the handler runs in this request's context)."""
    from bot.content.pinning import MODEL_ID, model_id_of

    try:
        body = request.json
    except Exception:  # noqa: BLE001 - not JSON: rasa_sdk answers it
        return
    MODEL_ID.set(model_id_of((body or {}).get("tracker") if isinstance(body, dict) else None))


def guard(secret: str, max_body: int = MAX_BODY, max_inflated: int = MAX_INFLATED):
    expected = f"Bearer {secret}".encode()

    async def middleware(request: Request):
        if request.path in OPEN_PATHS and request.method == "GET":
            return None
        given = (request.headers.get("Authorization") or "").encode()
        if not hmac.compare_digest(given, expected):
            return _refuse(401, "unauthorized")
        # Sanic runs request middleware before it reads the body: read it now (capped at
        # REQUEST_MAX_SIZE; a larger body is answered 413 by Sanic).
        await request.receive_body()
        body = request.body or b""
        if len(body) > max_body:
            return _refuse(413, "too_large")
        encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding == "deflate":
            try:
                inflated = inflate(body, max_inflated)
            except zlib.error:
                return _refuse(400, "bad_encoding")
            if inflated is None:
                return _refuse(413, "too_large")
            request.body = inflated
            request.parsed_json = None
            del request.headers["Content-Encoding"]
        elif encoding != "identity":
            return _refuse(415, "unsupported_encoding")
        pin_content_version(request)
        return None

    return middleware


async def _fresh_knowledge(request: Request):
    """Each action call sees the knowledge base as published: the content hash is read
    once per call (bot.kb.service), not once per KB lookup nor never."""
    if request.path != "/health":
        from bot.kb.service import recheck

        recheck()


def call_log(path: str):
    """The ACTIONS_CALL_LOG middleware: appends the call's sender and action to `path`
    (after the guard: only calls that are run)."""

    async def middleware(request: Request):
        if request.method != "POST" or request.path != "/webhook":
            return None
        try:
            body = request.json
        except Exception:  # noqa: BLE001 - not JSON: rasa_sdk answers it
            return None
        if isinstance(body, dict):
            line = json.dumps({"sender": body.get("sender_id"), "action": body.get("next_action")},
                              ensure_ascii=False)
            with open(path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        return None

    return middleware


@hookimpl
def attach_sanic_app_extensions(app: Sanic) -> None:
    from bot.config import actions_secret

    app.config.REQUEST_MAX_SIZE = MAX_BODY
    app.register_middleware(guard(actions_secret()), "request")
    app.register_middleware(_fresh_knowledge, "request")
    if os.environ.get("ACTIONS_CALL_LOG"):
        app.register_middleware(call_log(os.environ["ACTIONS_CALL_LOG"]), "request")
    logger.info("action server: shared secret required, bodies capped")


def init_hooks(manager: pluggy.PluginManager) -> None:
    import sys

    manager.register(sys.modules[__name__])
