"""The department API over real HTTP: keys, scoping, transitions, bad input."""

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from backend.app import create_app
from bot.applications.department_keys import DepartmentKeys
from bot.applications.service import Applications
from bot.applications.validation import check
from tests.bot.applications.values import answer_for


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def client(loop, kb):
    client = TestClient(TestServer(create_app(Applications(kb))), loop=loop)
    loop.run_until_complete(client.start_server())
    yield client
    loop.run_until_complete(client.close())


@pytest.fixture(scope="module")
def submitted(kb):
    apps = Applications(kb)
    draft = apps.start("api-citizen", "newborn")
    draft.items = ["birth_medical_certificate", "birth_hukou_registration"]
    for spec in apps.form("newborn").fields_for(draft.items):
        draft.values[spec.id] = check(spec, answer_for(spec), draft.values).value
    apps.save(draft)
    return apps.submit(draft.id)


def call(loop, client, method, path, key=None, **kw):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async def go():
        resp = await client.request(method, path, headers=headers, **kw)
        body = await resp.json(content_type=None) if resp.content_type == "application/json" else await resp.text()
        return resp.status, body
    return loop.run_until_complete(go())


def test_healthz(loop, client):
    assert call(loop, client, "GET", "/healthz") == (200, {"status": "ok"})


def test_key_required_and_only_hash_stored(loop, client, submitted):
    path = "/api/departments/v1/sub-applications"
    assert call(loop, client, "GET", path)[0] == 401
    assert call(loop, client, "GET", path, key="yjsdk_forged")[0] == 401
    key = DepartmentKeys().create("gd_health")
    status, body = call(loop, client, "GET", path, key=key)
    assert status == 200 and body["items"]
    assert {i["department"] for i in body["items"]} == {"gd_health"}
    DepartmentKeys().revoke("gd_health")
    assert call(loop, client, "GET", path, key=key)[0] == 401


def test_transitions_scoped_to_the_department(loop, client, submitted):
    health, police = DepartmentKeys().create("gd_health"), DepartmentKeys().create("gd_public_security")
    cert = next(s for s in submitted.subs if s.department_id == "gd_health")
    url = f"/api/departments/v1/sub-applications/{cert.id}/transitions"

    status, body = call(loop, client, "POST", url, police, json={"to": "accepted"})
    assert status == 403 and body["error"] == "forbidden"
    status, body = call(loop, client, "POST", url, health, json={"to": "accepted"})
    assert status == 200 and body["state"] == "accepted" and body["application"] == submitted.number
    status, body = call(loop, client, "POST", url, health, json={"to": "completed"})
    assert status == 409 and "allowed" in body["message"]
    status, body = call(loop, client, "POST", url, health, json={"to": "needs_more"})
    assert status == 409 and "missing" in body["message"]
    status, body = call(loop, client, "POST", url, health, json={"to": "approved", "note": "Q440123456"})
    assert status == 200 and body["note"] == "Q440123456"


@pytest.mark.parametrize(("payload", "status"), [
    ({"data": b"{not json"}, 400), ({"json": ["accepted"]}, 400), ({"json": {"to": 3}}, 400),
    ({"json": {"to": "accepted", "note": {"x": 1}}}, 400), ({"data": b"x" * 70000}, 413),
])
def test_bad_bodies_get_clear_errors(loop, client, submitted, payload, status):
    key = DepartmentKeys().create("gd_health")
    sub = submitted.subs[0]
    got, _ = call(loop, client, "POST", f"/api/departments/v1/sub-applications/{sub.id}/transitions",
                  key, **payload)
    assert got == status


def test_unknown_sub_application(loop, client):
    key = DepartmentKeys().create("gd_health")
    for sub_id in ("999999", "abc"):
        got, _ = call(loop, client, "POST", f"/api/departments/v1/sub-applications/{sub_id}/transitions",
                      key, json={"to": "accepted"})
        assert got == 404
