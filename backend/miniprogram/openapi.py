"""GET /api/mp/openapi.json: the API description, kept as data in openapi.yaml
(tests check it against the routes and against real responses)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from aiohttp import web

from backend.miniprogram.common import PREFIX

SPEC_FILE = Path(__file__).with_name("openapi.yaml")


@cache
def spec() -> dict:
    return yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))


async def openapi_json(_request: web.Request) -> web.Response:
    return web.json_response(spec())


def routes() -> list[web.RouteDef]:
    return [web.get(f"{PREFIX}/openapi.json", openapi_json)]
