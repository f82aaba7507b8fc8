"""/api/editor (role editor; publishing needs publisher): the content editors' console API.

Mounted with its auth boundary (no session → 401, no editor role → 403, CSRF on
every state change). The work is done by bot.content (versions, training queue,
models, publishing); this module only translates HTTP. Every endpoint and its JSON
is listed in README "Content editors' console".
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from backend.common import BadBody, client_ip, dumps, error, read_json_object
from backend.staff.auth import boundary, requires, staff
from backend.text import message
from bot.content.models import Models, PublishRefused, server_status
from bot.content.store import ContentInvalid, ContentStore, NotFound
from bot.content.training import Trainings
from bot.staff.accounts import EDITOR, PUBLISHER

PREFIX = "/api/editor"
MAX_EDIT = 200 * 1024
CONTENT = web.AppKey("content_store", ContentStore)
TRAININGS = web.AppKey("trainings", Trainings)
MODELS = web.AppKey("models", Models)


def _json(data, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


def _actor(request: web.Request):
    return staff(request).actor(client_ip(request))


def _which(request: web.Request) -> str:
    which = request.query.get("version", "draft")
    if which not in ("draft", "live") and not which.isdigit():
        raise web.HTTPBadRequest(text=json.dumps({"error": "bad_request", "message": message(
            "bad_request", detail="version")}), content_type="application/json")
    return which


async def _body(request: web.Request) -> dict:
    return await read_json_object(request, MAX_EDIT)


def _invalid(exc: ContentInvalid) -> web.Response:
    return error(422, "invalid", message("invalid_content"), problems=exc.problems)


@web.middleware
async def _errors(request: web.Request, handler):
    try:
        return await handler(request)
    except BadBody as exc:
        return error(exc.status, exc.code, message(exc.code))
    except ContentInvalid as exc:
        return _invalid(exc)
    except NotFound:
        return error(404, "not_found", message("not_found"))
    except PublishRefused as exc:
        return error(exc.status, exc.code, "；".join(exc.why), why=exc.why)


# --- content ---------------------------------------------------------------------------

async def list_bundles(request: web.Request) -> web.Response:
    store = request.app[CONTENT]
    which = _which(request)

    def read():
        out = []
        for bid in store.bundle_ids(which):
            b = store.bundle(bid, which)
            out.append({"id": bid, "name": b.get("name"), "audience": b.get("audience"),
                        "items": len(b.get("items") or []), "synonyms": b.get("synonyms") or []})
        return {"bundles": out, "version": store.info(which)}
    return _json(await asyncio.to_thread(read))


async def get_bundle(request: web.Request) -> web.Response:
    store = request.app[CONTENT]
    return _json(await asyncio.to_thread(store.bundle, request.match_info["id"], _which(request)))


async def put_bundle(request: web.Request) -> web.Response:
    store, body = request.app[CONTENT], await _body(request)
    bid = request.match_info["id"]
    result = await asyncio.to_thread(store.put_bundle, bid, body, _actor(request))
    return _json({**result, "bundle": await asyncio.to_thread(store.bundle, bid)})


async def add_synonym(request: web.Request) -> web.Response:
    store, body = request.app[CONTENT], await _body(request)
    bid = request.match_info["id"]
    result = await asyncio.to_thread(store.add_synonym, bid, body.get("text"), _actor(request))
    return _json({**result, "bundle": bid, "text": str(body.get("text")).strip()}, 201)


async def get_document(request: web.Request) -> web.Response:
    store = request.app[CONTENT]
    return _json(await asyncio.to_thread(store.document, request.match_info["name"], _which(request)))


async def put_document(request: web.Request) -> web.Response:
    store = request.app[CONTENT]
    name = request.match_info["name"]
    store.document_file(name)  # 404 for a name that is not a document
    body = await _body(request)
    # a list-shaped document is sent as {"items": [...]}: the JSON body is always an object
    value = body["items"] if set(body) == {"items"} and isinstance(body["items"], list) else body
    return _json(await asyncio.to_thread(store.put_document, name, value, _actor(request)))


async def add_example(request: web.Request) -> web.Response:
    store, body = request.app[CONTENT], await _body(request)
    result = await asyncio.to_thread(store.add_example, body.get("intent"), body.get("text"),
                                     _actor(request))
    return _json({**result, "intent": body.get("intent"), "text": str(body.get("text")).strip()}, 201)


async def list_examples(request: web.Request) -> web.Response:
    store = request.app[CONTENT]

    def read():
        try:
            raw = store.document("nlu/editor", _which(request))
        except NotFound:
            return {"examples": []}
        return {"examples": [{"intent": b["intent"], "text": ln[2:]}
                             for b in (raw or {}).get("nlu") or []
                             for ln in str(b.get("examples", "")).splitlines() if ln.startswith("- ")]}
    return _json(await asyncio.to_thread(read))


async def diff(request: web.Request) -> web.Response:
    store = request.app[CONTENT]
    old, new = request.query.get("from", "live"), request.query.get("to", "draft")
    for v in (old, new):
        if v not in ("draft", "live") and not v.isdigit():
            return error(400, "bad_request", message("bad_request", detail="from/to"))
    bundle = request.query.get("bundle")

    def run():
        files = store.diff(old, new)
        if bundle:
            files = [f for f in files if f.get("bundle") == bundle]
        return {"from": store.info(old), "to": store.info(new), "files": files}
    return _json(await asyncio.to_thread(run))


async def versions(request: web.Request) -> web.Response:
    store = request.app[CONTENT]

    def run():
        rows = store.versions()
        return {"versions": rows, "live": next((r["id"] for r in rows if r["live"]), None),
                "draft": next((r["id"] for r in rows if r["state"] == "draft"), None)}
    return _json(await asyncio.to_thread(run))


async def discard_draft(request: web.Request) -> web.Response:
    done = await asyncio.to_thread(request.app[CONTENT].discard_draft, _actor(request))
    return _json({"discarded": done})


@requires(PUBLISHER)
async def export(request: web.Request) -> web.Response:
    """Write a version (default live) into the server's data/ (to commit it to git)."""
    store = request.app[CONTENT]
    body = await _body(request) if request.can_read_body else {}
    which = str(body.get("version", "live"))
    if which not in ("draft", "live") and not which.isdigit():
        return error(400, "bad_request", message("bad_request", detail="version"))

    def run():
        files = store.export(which)
        from bot.staff import audit

        audit.AuditLog().record("editor.export", actor=_actor(request), target=f"content:{which}",
                                detail={"files": len(files)})
        return {"version": store.info(which)["id"], "files": files}
    return _json(await asyncio.to_thread(run))


async def import_(request: web.Request) -> web.Response:
    """data/ of the server as the new draft."""
    return _json(await asyncio.to_thread(request.app[CONTENT].import_, _actor(request)), 201)


# --- training, models, publishing --------------------------------------------------------

async def start_training(request: web.Request) -> web.Response:
    body = await _body(request) if request.can_read_body else {}
    which = str(body.get("version", "draft"))
    if which not in ("draft", "live") and not which.isdigit():
        return error(400, "bad_request", message("bad_request", detail="version"))
    job = await asyncio.to_thread(request.app[TRAININGS].request, _actor(request), which)
    return _json({"id": job, "state": "queued"}, 202)


async def list_trainings(request: web.Request) -> web.Response:
    return _json({"trainings": await asyncio.to_thread(request.app[TRAININGS].list)})


def _job_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(raw)
    return int(raw)


async def get_training(request: web.Request) -> web.Response:
    job = await asyncio.to_thread(request.app[TRAININGS].get, _job_id(request))
    if job is None:
        raise NotFound(request.match_info["id"])
    return _json(job)


async def training_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the job's JSON whenever its progress or state changes, until it ends
    (at most 30 minutes per stream; the page reconnects)."""
    trainings, job_id = request.app[TRAININGS], _job_id(request)
    job = await asyncio.to_thread(trainings.get, job_id)
    if job is None:
        raise NotFound(str(job_id))
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await resp.prepare(request)
    last = None
    for _ in range(1800 * 2):
        key = (job["state"], job["progress"], job["stage"])
        if key != last:
            await resp.write(f"data: {json.dumps({k: v for k, v in job.items() if k != 'log'}, ensure_ascii=False)}\n\n"
                             .encode())
            last = key
        if job["state"] in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.5)
        job = await asyncio.to_thread(trainings.get, job_id)
    return resp


async def list_models(request: web.Request) -> web.Response:
    return _json({"models": await asyncio.to_thread(request.app[MODELS].list)})


async def get_model(request: web.Request) -> web.Response:
    return _json(await asyncio.to_thread(request.app[MODELS].get, request.match_info["id"]))


@requires(PUBLISHER)
async def publish(request: web.Request) -> web.Response:
    models = request.app[MODELS]
    result = await asyncio.to_thread(models.publish, request.match_info["id"], _actor(request))
    return _json(result, 202)


async def servers(request: web.Request) -> web.Response:
    models = request.app[MODELS]

    def run():
        live = models.live()
        return {"live": live.id if live else None, "servers": server_status(models)}
    return _json(await asyncio.to_thread(run))


def routes() -> list[web.RouteDef]:
    from backend.editor import inbox  # the inbox of real conversations (editui)

    return [*inbox.routes(),
        web.get("/bundles", list_bundles),
        web.get("/bundles/{id}", get_bundle),
        web.put("/bundles/{id}", put_bundle),
        web.post("/bundles/{id}/synonyms", add_synonym),
        web.get("/documents/{name:[a-z_]+(/[a-z0-9_]+)?}", get_document),
        web.put("/documents/{name:[a-z_]+(/[a-z0-9_]+)?}", put_document),
        web.get("/nlu/examples", list_examples),
        web.post("/nlu/examples", add_example),
        web.get("/diff", diff),
        web.get("/versions", versions),
        web.delete("/draft", discard_draft),
        web.post("/export", export),
        web.post("/import", import_),
        web.post("/trainings", start_training),
        web.get("/trainings", list_trainings),
        web.get("/trainings/{id}", get_training),
        web.get("/trainings/{id}/events", training_events),
        web.get("/models", list_models),
        web.get("/models/{id}", get_model),
        web.post("/models/{id}/publish", publish),
        web.get("/servers", servers),
    ]


def create_app() -> web.Application:
    app = web.Application(middlewares=[boundary(EDITOR), _errors])
    app[CONTENT] = ContentStore()
    app[TRAININGS] = Trainings()
    app[MODELS] = Models()
    app.add_routes(routes())
    return app
