"""/api/editor/inbox (role editor): learn from real conversations.

GET  /api/editor/inbox?flag=low_confidence|fallback|handoff|bad_rating&limit=N
        → {"messages": [{"id", "conversation", "channel", "text" (masked), "at", "intent",
           "confidence", "bundle", "later_bundle", "alternatives", "flags", "personal_data"}],
           "flags": [...], "low_confidence": 0.6}
GET  /api/editor/inbox/suggestions
        → {"suggestions": [{"kind": "synonym"|"examples", "word", "bundle", "intent",
           "messages": [ids], "count", "texts", "word_known_as"}]}
POST /api/editor/inbox/{id}/example {"intent", "bundle"?, "phrase"?}
        → 201 {"example": {"intent", "text"}}: the message becomes a training example of
          the draft (through the editor's NLU examples service), the bundle marked as an
          entity in Rasa's form; 409 when it held personal data; 422 naming the field.
POST /api/editor/inbox/{id}/review {"note"?} → 201: kept in the review set (audit log,
        action inbox.review — who, when, which message, the masked words)
GET  /api/editor/inbox/review → {"messages": [{"id", "text", "intent", "bundle", "note",
        "by", "at"}]}

Messages come from the tracker store (bot.inbox), masked; the sender id never
leaves the service.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from backend.common import APPS, BadBody, client_ip, dumps, read_json_object
from backend.staff import bad_body
from backend.staff.auth import deny, staff
from bot.inbox import FLAGS, Inbox, Message, settings
from bot.staff.audit import AuditLog

PREFIX = "/inbox"
MAX_BODY = 4 * 1024
MAX_LIMIT = 500
REVIEW = "inbox.review"
INTENT_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
BUNDLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _inbox(request: web.Request) -> Inbox:
    return request.app.get("inbox") or Inbox()


def _bundle_names(request: web.Request) -> dict[str, list[str]]:
    return {b.id: [b.name, *b.synonyms] for b in request.config_dict[APPS].kb.bundles()}


async def list_messages(request: web.Request) -> web.Response:
    flag = request.query.get("flag") or None
    if flag is not None and flag not in FLAGS:
        return deny(400, "bad_request")
    try:
        limit = max(1, min(int(request.query.get("limit", "100")), MAX_LIMIT))
    except ValueError:
        return deny(400, "bad_request")
    found = await asyncio.to_thread(_inbox(request).messages, flag, limit)
    return web.json_response({"messages": [m.as_json() for m in found], "flags": list(FLAGS),
                              "low_confidence": settings()["low_confidence"]}, dumps=dumps)


async def suggestions(request: web.Request) -> web.Response:
    names = await asyncio.to_thread(_bundle_names, request)
    found = await asyncio.to_thread(_inbox(request).suggestions, names)
    return web.json_response({"suggestions": found}, dumps=dumps)


async def _message(request: web.Request) -> Message | None:
    try:
        event_id = int(request.match_info["id"])
    except ValueError:
        return None
    return await asyncio.to_thread(_inbox(request).message, event_id)


def annotate(text: str, bundle: str | None, phrase: str | None,
             names: dict[str, list[str]]) -> str | None:
    """The example in Rasa's form: the words naming the bundle marked as its entity,
    e.g. 孩子[上幼儿园]{"entity": "bundle", "value": "school_enrollment"}要什么材料.
    Which words: `phrase` when given, else the longest known name of the bundle found
    in the text. None when the bundle is named by nothing in the text."""
    plain = text.replace("[", "［").replace("]", "］")  # brackets are Rasa's markup
    if not bundle:
        return plain
    candidates = [phrase] if phrase else sorted(names.get(bundle, []), key=len, reverse=True)
    for words in candidates:
        if words and words in plain:
            at = plain.index(words)
            mark = f'[{words}]{{"entity": "bundle", "value": "{bundle}"}}'
            return plain[:at] + mark + plain[at + len(words):]
    return None


async def _add_example(request: web.Request, intent: str, text: str) -> web.Response | None:
    """Into the draft through the content store (bot.content.store), exactly as
    POST /api/editor/nlu/examples adds one: validated, audited as editor.edit."""
    from bot.content.store import ContentInvalid, ContentStore

    actor = staff(request).actor(client_ip(request))
    try:
        await asyncio.to_thread(ContentStore().add_example, intent, text, actor)
    except ContentInvalid as exc:
        return web.json_response({"error": "invalid", "problems": exc.problems}, status=422,
                                 dumps=dumps)
    return None


async def add_example(request: web.Request) -> web.Response:
    try:
        body = await read_json_object(request, MAX_BODY)
    except BadBody as exc:
        return bad_body(exc)
    m = await _message(request)
    if m is None:
        return deny(404, "not_found")
    intent, bundle, phrase = body.get("intent"), body.get("bundle"), body.get("phrase")
    problems = []
    if not isinstance(intent, str) or not INTENT_RE.match(intent):
        problems.append({"field": "intent", "error": "bad_intent"})
    names = await asyncio.to_thread(_bundle_names, request)
    if bundle is not None and (not isinstance(bundle, str) or not BUNDLE_RE.match(bundle)):
        problems.append({"field": "bundle", "error": "bad_bundle"})
    if phrase is not None and (not isinstance(phrase, str) or not phrase.strip()
                               or phrase not in m.text):
        problems.append({"field": "phrase", "error": "phrase_not_in_text"})
    if problems:
        return web.json_response({"error": "invalid", "problems": problems}, status=422,
                                 dumps=dumps)
    if m.personal_data:
        return deny(409, "inbox_personal_data")
    text = annotate(m.text, bundle, phrase, names)
    if text is None:
        return web.json_response({"error": "invalid", "problems": [
            {"field": "phrase", "error": "phrase_needed"}]}, status=422, dumps=dumps)
    result = await _add_example(request, intent, text)
    if isinstance(result, web.Response):  # the examples service refused it: its answer
        return result
    return web.json_response({"example": {"intent": intent, "text": text}, "message": m.id},
                             status=201, dumps=dumps)


async def add_review(request: web.Request) -> web.Response:
    try:
        body = await read_json_object(request, MAX_BODY)
    except BadBody as exc:
        return bad_body(exc)
    note = body.get("note") or ""
    if not isinstance(note, str) or len(note) > 500:
        return web.json_response({"error": "invalid", "problems": [
            {"field": "note", "error": "bad_note"}]}, status=422, dumps=dumps)
    m = await _message(request)
    if m is None:
        return deny(404, "not_found")
    actor = staff(request).actor(client_ip(request))
    detail = {"message": m.id, "text": m.text, "intent": m.intent, "bundle": m.bundle,
              "confidence": m.confidence, "flags": m.flags, "note": note}
    await asyncio.to_thread(AuditLog().record, REVIEW, actor=actor, target=f"message:{m.id}",
                            conversation=m.conversation, detail=detail)
    return web.json_response({"review": {"message": m.id}}, status=201, dumps=dumps)


async def list_review(_request: web.Request) -> web.Response:
    entries, _ = await asyncio.to_thread(AuditLog().query, action=REVIEW, limit=200)
    out = [{"id": (e.detail or {}).get("message"), "text": (e.detail or {}).get("text"),
            "intent": (e.detail or {}).get("intent"), "bundle": (e.detail or {}).get("bundle"),
            "note": (e.detail or {}).get("note"), "by": e.actor, "at": e.at.isoformat()}
           for e in entries]
    return web.json_response({"messages": out}, dumps=dumps)


def routes(prefix: str = PREFIX) -> list[web.RouteDef]:
    return [web.get(prefix, list_messages),
            web.get(f"{prefix}/suggestions", suggestions),
            web.get(f"{prefix}/review", list_review),
            web.post(prefix + r"/{id:\d+}/example", add_example),
            web.post(prefix + r"/{id:\d+}/review", add_review)]
