"""openapi.yaml stays true: every /api/mp route is described, every described
operation exists, every $ref resolves and the backend serves the document.
(Every response in these tests is also validated against it by the client.)"""

from __future__ import annotations

import json

import jsonschema

from backend.miniprogram.openapi import spec

METHODS = {"get", "post", "put", "patch", "delete"}


def _app_operations(mp) -> set[tuple[str, str]]:
    ops = set()
    for route in mp.client.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api/mp") and route.method.lower() in METHODS:
            ops.add((route.method.lower(), path))
    return ops


def _spec_operations() -> set[tuple[str, str]]:
    return {(m, p) for p, item in spec()["paths"].items() for m in item if m in METHODS}


def test_every_route_is_described_and_every_description_is_a_route(mp):
    app_ops, spec_ops = _app_operations(mp), _spec_operations()
    assert app_ops - spec_ops == set(), "routes missing from openapi.yaml"
    assert spec_ops - app_ops == set(), "openapi.yaml describes routes that do not exist"


def test_every_operation_documents_its_errors_and_refs_resolve():
    doc = spec()
    assert doc["openapi"].startswith("3.")
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            public = op.get("security") == []
            assert public or "401" in op["responses"], f"{method} {path} must document 401"
            assert any(s.startswith("2") for s in op["responses"]), f"{method} {path}: no success"
    resolver = jsonschema.RefResolver.from_schema(doc)

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                resolver.resolve(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema), name


def test_served_without_login(mp):
    r = mp.call("GET", "/api/mp/openapi.json")
    assert r.status == 200 and r.body == json.loads(json.dumps(spec()))
