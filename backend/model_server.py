"""GET /api/models/live: Rasa's model-server protocol, served from the live model.

Every Rasa server's endpoints.yml has `models: url:` here (bot.run.write_endpoints)
with a bearer secret of its own (derived from the data key). Rasa sends
`If-None-Match: <the ETag it loaded>`; while the live model is unchanged it gets
304 and keeps its model; after a publish it gets 200, the file, and the ETag (our
model id; Rasa drops a model served without one). Only models that have been
test-loaded and evaluated by the trainer can become live, so a server never
re-downloads a model that fails to load.
"""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web

from backend.common import error
from bot.config import derived_secret
from bot.content.models import Models

MODELS = web.AppKey("live_models", Models)


def model_server_secret() -> str:
    return derived_secret("model-server")


async def live_model(request: web.Request) -> web.StreamResponse:
    given = (request.headers.get("Authorization") or "").encode()
    if not hmac.compare_digest(given, f"Bearer {model_server_secret()}".encode()):
        return error(401, "unauthorized", "model server: bearer secret required")
    live = await asyncio.to_thread(request.app[MODELS].live)
    if live is None or not live.path.exists():
        return error(404, "not_found", "no live model")
    etag = live.id
    sent = (request.headers.get("If-None-Match") or "").strip().strip('"')
    headers = {"ETag": etag, "Cache-Control": "no-store", "filename": f"{live.id}.tar.gz"}
    if sent == etag:
        return web.Response(status=304, headers=headers)
    # not FileResponse: it sets an ETag of its own (mtime-size), and Rasa keys on ours
    resp = web.StreamResponse(headers={**headers, "Content-Type": "application/gzip"})
    resp.content_length = live.path.stat().st_size
    await resp.prepare(request)
    with open(live.path, "rb") as f:
        while chunk := await asyncio.to_thread(f.read, 1 << 20):
            await resp.write(chunk)
    await resp.write_eof()
    return resp


def add_routes(app: web.Application) -> None:
    app[MODELS] = Models()
    app.router.add_get("/api/models/live", live_model)
