"""POST /api/mp/ratings (好差评) and POST /api/mp/subscriptions (subscribe-message
grants the citizen gave in wx.requestSubscribeMessage, used by the outbox
sender for status notifications)."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from backend.miniprogram.common import (
    PREFIX,
    RATINGS,
    SETTINGS,
    ApiError,
    apps,
    ensure_safe,
    optional_str,
    read_json,
    reply,
    session,
)
from bot.applications.service import NotFound
from bot.kb.service import UnknownBundle
from wechat.subscriptions import Busy, Subscriptions

MAX_COMMENT = 500
_TEMPLATE_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")


async def rate(request: web.Request) -> web.Response:
    body = await read_json(request)
    score = body.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ApiError(400, "bad_request", "score 必须是 1–5 的整数（5 非常满意 … 1 非常不满意）。")
    comment = optional_str(body, "comment", MAX_COMMENT) or ""
    number = optional_str(body, "application_number", 32)
    bundle_id = optional_str(body, "bundle_id", 64)
    await ensure_safe(request, comment)
    sender, service = session(request).sender, apps(request)

    def save() -> dict:
        if number:
            try:
                service.application(number, sender)  # only one's own applications
            except NotFound:
                raise ApiError(404, "not_found", "没有找到这份申请。") from None
        elif bundle_id:
            try:
                service.kb.bundle(bundle_id)
            except UnknownBundle:
                raise ApiError(404, "not_found", "没有这件事。") from None
        r = request.app[RATINGS].rate(sender, score, comment, bundle_id=bundle_id,
                                      application_number=number.upper() if number else None)
        return {"id": r.id, "score": r.score, "label": r.label, "flagged": r.flagged,
                "bundle_id": r.bundle_id, "departments": r.department_ids,
                "message": "感谢您的评价！" + ("我们会尽快跟进改进。" if r.flagged else "")}

    return reply(await asyncio.to_thread(save), 201)


def _grants(body: dict) -> dict[str, bool]:
    """{template_id: accepted} from {template_id, accept} or wx's {results: {id: "accept"|…}}."""
    if isinstance(body.get("results"), dict):
        return {str(k): v == "accept" for k, v in body["results"].items()}
    template_id, accept = body.get("template_id"), body.get("accept")
    if not isinstance(template_id, str) or not isinstance(accept, bool):
        raise ApiError(400, "bad_request", '请求体应为 {"template_id": "…", "accept": true}。')
    return {template_id: accept}


def record_grant(openid: str, template_id: str, accept: bool) -> int:
    """Add one grant when accepted; the remaining count (wechat.subscriptions owns the table)."""
    try:
        return Subscriptions().record(openid, template_id, accept)
    except Busy:
        raise ApiError(409, "conflict", "请稍后再试。") from None


async def subscribe(request: web.Request) -> web.Response:
    grants = _grants(await read_json(request))
    if not grants or len(grants) > 20:
        raise ApiError(400, "bad_request", "一次最多登记 20 个模板。")
    known = set(request.app[SETTINGS].mp_templates.values())
    for template_id in grants:
        if not _TEMPLATE_RE.fullmatch(template_id):
            raise ApiError(400, "bad_request", "template_id 格式不对。")
        if known and template_id not in known:
            raise ApiError(400, "unknown_template", "没有这个订阅消息模板。")
    openid = session(request).openid

    def save() -> list[dict]:
        return [{"template_id": t, "accepted": ok, "remaining": record_grant(openid, t, ok)}
                for t, ok in grants.items()]

    # template ids are opaque (43 base64 chars): not passed through the phone-number masking
    return web.json_response({"subscriptions": await asyncio.to_thread(save)})


def routes() -> list[web.RouteDef]:
    return [web.post(f"{PREFIX}/ratings", rate),
            web.post(f"{PREFIX}/subscriptions", subscribe)]
