"""The mini-program backend over real HTTP: login, the 401 wall, bundles, a whole
newborn application, privacy between citizens, ratings, subscriptions, input
limits and the content-safety check. Every response is checked against
openapi.yaml by the client (conftest)."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from backend.miniprogram.session import SessionTokens
from bot.applications.formspec import FieldSpec
from bot.applications.service import Applications
from bot.applications.validation import check
from bot.db import session_factory
from bot.identity.service import Identities
from bot.models import Application, MpSubscription, Rating
from tests.conftest import verify_identity
from wechat.fake import openid_for_code

DEMO_ID = "440106199203151025"   # 陈晓琳 in data/demo/citizens.yml
DEMO_PHONE = "13800138000"
SPOUSE_ID = "440106199007082018"
NEWBORN_SOME = ["birth_hukou_registration", "resident_medical_insurance_enrolment"]


def _code(name: str) -> str:
    return f"{name}-{time.monotonic_ns()}"


@pytest.fixture
def token(mp) -> str:
    return mp.login(_code("citizen"))


# -- login and the 401 wall ---------------------------------------------------------
def test_login_gives_our_own_token_and_nothing_of_wechats(mp, fake_wechat):
    code = _code("login")
    r = mp.call("POST", "/api/mp/login", json_body={"code": code})
    assert r.status == 200 and set(r.body) == {"token", "expires_in"} and r.body["expires_in"] > 0
    session = SessionTokens().verify(r.body["token"])
    assert session.openid == openid_for_code(code) and session.sender == "mp:" + session.openid
    assert "session_key" not in r.text
    fake_session_keys = [c for c in fake_wechat.calls("/sns/jscode2session")]
    assert fake_session_keys, "code2Session went to the fake"


def test_bad_or_reused_code_is_refused(mp):
    assert mp.call("POST", "/api/mp/login", json_body={"code": "invalid-code"}).status == 401
    code = _code("once")
    mp.login(code)
    r = mp.call("POST", "/api/mp/login", json_body={"code": code})
    assert r.status == 401 and r.body["error"] == "login_failed"
    assert mp.call("POST", "/api/mp/login", json_body={}).status == 400


def test_wechat_trouble_at_login_is_a_clean_error(mp, fake_wechat):
    fake_wechat.fail_next("/sns/jscode2session", 45011)  # API minute quota reached
    r = mp.call("POST", "/api/mp/login", json_body={"code": _code("busy")})
    assert r.status == 502 and r.body["error"] == "wechat_unavailable"
    fake_wechat.fail_next("/sns/jscode2session", 40226)  # a blocked high-risk user
    assert mp.call("POST", "/api/mp/login", json_body={"code": _code("risky")}).status == 401


def _mp_routes(mp) -> list[tuple[str, str]]:
    out = []
    for route in mp.client.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api/mp") and route.method != "HEAD":
            out.append((route.method, path))
    return out


def test_every_endpoint_refuses_an_unauthenticated_request(mp):
    public = {"/api/mp/login", "/api/mp/openapi.json"}
    routes = [(m, p) for m, p in _mp_routes(mp) if p not in public]
    assert len(routes) >= 9
    for method, path in routes:
        concrete = path.replace("{bundle_id}", "newborn").replace("{number}", "YJS-20260101-000001")
        r = mp.call(method, concrete, json_body={} if method == "POST" else None)
        assert r.status == 401, (method, path)
        assert set(r.body) == {"error", "message"} and r.body["error"] == "unauthorized"
    # unknown paths under the prefix reveal nothing either
    assert mp.call("GET", "/api/mp/admin", check=False).status == 401


def test_expired_tampered_or_foreign_tokens_are_refused(mp):
    good = mp.login(_code("tamper"))
    assert mp.call("GET", "/api/mp/bundles", good).status == 200
    body, sig = good.split(".")
    forged_body = ("A" if body[0] != "A" else "B") + body[1:]
    flipped_sig = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    expired, _ = SessionTokens(ttl=60).issue(openid_for_code("x"), now=time.time() - 3600)
    other_key, _ = SessionTokens(key=b"k" * 32).issue(openid_for_code("x"))
    for bad in (f"{forged_body}.{sig}", f"{body}.{flipped_sig}", expired, other_key, "garbage", good + "x"):
        r = mp.call("GET", "/api/mp/applications", bad)
        assert r.status == 401 and r.body["error"] == "unauthorized", bad
    r = mp.call("GET", "/api/mp/bundles", headers={"Authorization": f"Basic {good}"})
    assert r.status == 401


# -- bundles ------------------------------------------------------------------------
def test_bundle_list_and_detail(mp, token):
    r = mp.call("GET", "/api/mp/bundles", token)
    ids = [b["id"] for b in r.body["bundles"]]
    assert r.status == 200 and len(ids) >= 13 and "newborn" in ids and "enterprise_opening" in ids
    personal = mp.call("GET", "/api/mp/bundles?audience=personal", token).body["bundles"]
    assert {b["audience"] for b in personal} == {"personal"}
    assert mp.call("GET", "/api/mp/bundles?audience=martian", token).status == 400

    r = mp.call("GET", "/api/mp/bundles/newborn", token)
    assert r.status == 200 and r.body["name"] == "新生儿出生"
    keys = [it["key"] for it in r.body["items"]]
    assert "birth_medical_certificate" in keys and "birth_hukou_registration" in keys
    hukou = next(it for it in r.body["items"] if it["key"] == "birth_hukou_registration")
    assert any("birth_medical_certificate" in p["items"] for p in hukou["prerequisites"])
    assert {d["id"] for d in r.body["departments"]} >= {"gd_health", "gd_public_security"}
    names = [m["name"] for m in r.body["materials"]]
    assert len(names) == len({(m["id"], m["holder"]) for m in r.body["materials"]})  # merged: each once
    assert r.body["form"]["fields"][0]["id"] == "applicant_id_number"

    some = mp.call("GET", "/api/mp/bundles/newborn?items=birth_hukou_registration", token).body
    field_ids = [f["id"] for f in some["form"]["fields"]]
    assert "birth_certificate_number" in field_ids and "baby_gender" in field_ids
    assert all(m["used_by"] == ["birth_hukou_registration"] for m in some["materials"])
    assert mp.call("GET", "/api/mp/bundles/newborn?items=nope", token).status == 400
    assert mp.call("GET", "/api/mp/bundles/no_such_thing", token).status == 404


def test_parallel_group_comes_along(mp, token):
    detail = mp.call("GET", "/api/mp/bundles/second_hand_housing", token).body
    group = next(iter(detail["parallel_groups"].values()))
    one = mp.call("GET", f"/api/mp/bundles/second_hand_housing?items={group[0]}", token).body
    used = {k for m in one["materials"] for k in m["used_by"]}
    assert set(group) <= used | {group[0]} and len(used) >= 2


# -- a whole application ------------------------------------------------------------
def _answers(apps: Applications, items: list[str], skip: set[str]) -> dict[str, str]:
    from tests.bot.applications.values import answer_for

    form = apps.form("newborn")
    return {f.id: answer_for(f) for f in form.fields_for(items) if f.id not in skip}


def _spec(apps: Applications, field_id: str) -> FieldSpec:
    return apps.form("newborn").field(field_id)


def test_newborn_application_through_the_api(mp, kb, identity_provider):
    apps = Applications(kb)
    token = mp.login(_code("mother"))
    sender = "mp:" + SessionTokens().verify(token).openid
    url = "/api/mp/applications"

    # 1. some items, wrong 身份证号 and phone: the chat's own Chinese messages, field by field
    r = mp.call("POST", url, token, json_body={
        "bundle_id": "newborn", "items": NEWBORN_SOME, "submit": False,
        "values": {"applicant_id_number": "440106199203151026", "applicant_phone": "1234",
                   "baby_name": "王小明", "no_such_field": "x"}})
    assert r.status == 422 and r.body["error"] == "invalid_fields"
    errors = {e["field"]: e["message"] for e in r.body["errors"]}
    today = date.today()
    assert errors["applicant_id_number"] == check(_spec(apps, "applicant_id_number"),
                                                  "440106199203151026", {}, today).error
    assert "校验位" in errors["applicant_id_number"]
    assert errors["applicant_phone"] == "手机号应为1开头的11位数字，请重新输入。"
    assert "no_such_field" in errors and "baby_name" not in errors
    draft = r.body["draft"]
    assert [i["key"] for i in draft["items"]] == NEWBORN_SOME
    assert any(p["needs"] == "出生医学证明签发" for p in draft["prerequisites"])  # hukou needs the certificate
    assert "birth_certificate_number" in draft["missing"]  # …so its number is asked instead
    assert next(f for f in draft["fields"] if f["id"] == "baby_name")["value"] == "王*明"  # kept, masked
    draft_id = draft["id"]

    # 2. the right 身份证号 and consent, but no verified identity: nothing from shared data
    r = mp.call("POST", url, token, json_body={
        "draft_id": draft_id, "prefill": True, "submit": False,
        "values": {"applicant_id_number": DEMO_ID}})
    assert r.status == 200, r.text
    assert r.body["draft"]["prefill"] == "unverified" and r.body["draft"]["prefilled_now"] == []
    assert "陈" not in r.text

    # …verified as 陈晓琳 (实名核验, as the chat offers it): pre-filled, masked in the reply
    started = Identities().start(sender)
    verify_identity(identity_provider, started.url, DEMO_ID, "陈晓琳")
    r = mp.call("POST", url, token, json_body={"draft_id": draft_id, "prefill": True,
                                               "submit": False})
    assert r.status == 200, r.text
    d = r.body["draft"]
    assert d["prefill"] == "found"
    assert set(d["prefilled_now"]) >= {"applicant_name", "applicant_phone", "other_parent_name",
                                      "other_parent_id_number", "hukou_address", "applicant_address"}
    fields = {f["id"]: f for f in d["fields"]}
    assert fields["applicant_name"]["value"] == "陈*琳" and fields["applicant_name"]["prefilled"]
    assert fields["hukou_address"]["value"] == "广州市天河区…"
    assert fields["applicant_phone"]["value"] == "138****8000"
    assert fields["applicant_id_number"]["value"] == "4401**********1025"
    assert DEMO_ID not in r.text and DEMO_PHONE not in r.text and SPOUSE_ID not in r.text

    # 3. a birth date in the future: refused with the chat's message
    future = today + timedelta(days=3)
    r = mp.call("POST", url, token, json_body={
        "draft_id": draft_id, "submit": False,
        "values": {"baby_birth_date": f"{future.year}年{future.month}月{future.day}日"}})
    assert r.status == 422
    assert r.body["errors"][0]["message"] == "出生日期不能晚于今天，请再核对一下。"

    # 4. submitting an incomplete form says what is missing
    r = mp.call("POST", url, token, json_body={"draft_id": draft_id})
    assert r.status == 422 and r.body["error"] == "incomplete" and "出生医学证明编号" in r.body["message"]

    # 5. the rest, then submit twice (double tap) with the same draft id → one application
    rest = _answers(apps, NEWBORN_SOME, skip=set(fields) - set(d["missing"]))
    r = mp.call("POST", url, token, json_body={"draft_id": draft_id, "values": rest, "submit": False})
    assert r.status == 200 and r.body["draft"]["missing"] == [] and r.body["draft"]["stage"] == "confirm"
    first = mp.call("POST", url, token, json_body={"draft_id": draft_id})
    again = mp.call("POST", url, token, json_body={"draft_id": draft_id})
    assert first.status == 201 and again.status == 201
    assert first.body["number"] == again.body["number"]
    assert [i["key"] for i in first.body["items"]] == NEWBORN_SOME
    assert {i["department"] for i in first.body["items"]} == {"gd_public_security", "gd_healthcare_security"}
    with session_factory()() as s:
        mine = s.execute(select(Application).where(Application.sender == sender)).scalars().all()
        assert len(mine) == 1
        stored = dict(mine[0].values)
    assert stored["applicant_phone"] == DEMO_PHONE and stored["applicant_name"] == "陈晓琳"
    assert stored["baby_name"] == "王小明"

    # 6. list and detail: item progress and history, masked
    apps.transition("gd_public_security", next(s.id for s in apps.application(first.body["number"]).subs
                                               if s.item_key == "birth_hukou_registration"), "accepted")
    listed = mp.call("GET", url, token)
    assert [a["number"] for a in listed.body["applications"]] == [first.body["number"]]
    r = mp.call("GET", f"{url}/{first.body['number']}", token)
    assert r.status == 200
    states = {i["key"]: i["state"] for i in r.body["items"]}
    assert states == {"birth_hukou_registration": "accepted", "resident_medical_insurance_enrolment": "submitted"}
    assert [h["to_state"] for h in r.body["history"]] == ["submitted", "submitted", "accepted"]
    shown = {f["id"]: f["display"] for f in r.body["fields"]}
    assert shown["applicant_phone"] == "138****8000" and shown["applicant_id_number"] == "4401**********1025"
    assert DEMO_ID not in r.text and DEMO_PHONE not in r.text
    assert mp.call("GET", f"{url}/{first.body['number'].lower()}", token).status == 200

    # 7. another citizen: not found, an empty list, and no draft of mine
    stranger = mp.login(_code("stranger"))
    r = mp.call("GET", f"{url}/{first.body['number']}", stranger)
    assert r.status == 404 and first.body["number"] not in r.text
    assert mp.call("GET", f"{url}/YJS-20000101-999999", stranger).body == r.body  # same as nonexistent
    assert mp.call("GET", url, stranger).body == {"applications": []}
    assert mp.call("POST", url, stranger, json_body={"draft_id": draft_id}).status == 404
    assert mp.call("POST", "/api/mp/ratings", stranger,
                   json_body={"score": 1, "application_number": first.body["number"]}).status == 404


def test_one_shot_application_retried_without_draft_id_is_one(mp, kb):
    apps = Applications(kb)
    token = mp.login(_code("oneshot"))
    items = ["birth_medical_certificate"]
    values = _answers(apps, items, skip=set())
    body = {"bundle_id": "newborn", "items": items, "values": values}
    first, twin = mp.together("POST", "/api/mp/applications", token, [body, body])  # a double tap
    again = mp.call("POST", "/api/mp/applications", token, json_body=body)  # a retry
    assert {first.status, twin.status, again.status} == {201}
    assert first.body["number"] == twin.body["number"] == again.body["number"]
    assert len(mp.call("GET", "/api/mp/applications", token).body["applications"]) == 1


def test_concurrent_submits_of_one_draft_make_one_application(mp, kb):
    apps = Applications(kb)
    token = mp.login(_code("doubletap"))
    items = ["vaccination_certificate"]
    r = mp.call("POST", "/api/mp/applications", token, json_body={
        "bundle_id": "newborn", "items": items, "values": _answers(apps, items, set()), "submit": False})
    assert r.status == 200 and r.body["draft"]["missing"] == []
    replies = mp.together("POST", "/api/mp/applications", token, [{"draft_id": r.body["draft"]["id"]}] * 3)
    assert {x.status for x in replies} == {201} and len({x.body["number"] for x in replies}) == 1
    assert len(mp.call("GET", "/api/mp/applications", token).body["applications"]) == 1


def test_all_items_by_default_and_the_draft_is_shared_and_cancellable(mp):
    token = mp.login(_code("drafts"))
    r = mp.call("POST", "/api/mp/applications", token,
                json_body={"bundle_id": "newborn", "submit": False, "values": {"baby_name": "李小花"}})
    assert r.status == 200 and len(r.body["draft"]["items"]) == 6
    cur = mp.call("GET", "/api/mp/drafts/current", token)
    assert cur.status == 200 and cur.body["draft"]["id"] == r.body["draft"]["id"]
    other = mp.call("POST", "/api/mp/applications", token, json_body={"bundle_id": "after_death", "submit": False})
    assert other.status == 409 and "新生儿出生" in other.body["message"]
    assert mp.call("DELETE", "/api/mp/drafts/current", token).status == 200
    assert mp.call("GET", "/api/mp/drafts/current", token).status == 404
    r = mp.call("POST", "/api/mp/applications", token,
                json_body={"bundle_id": "newborn", "items": ["nope"], "submit": False})
    assert r.status == 422 and r.body["error"] == "unknown_items"


# -- ratings and subscriptions ------------------------------------------------------
def test_ratings(mp):
    token = mp.login(_code("rater"))
    r = mp.call("POST", "/api/mp/ratings", token,
                json_body={"score": 2, "comment": "等太久了，电话13912345678", "bundle_id": "newborn"})
    assert r.status == 201 and r.body["flagged"] and r.body["label"] == "不满意"
    assert "gd_health" in r.body["departments"]
    with session_factory()() as s:
        row = s.get(Rating, r.body["id"])
        assert row.sender.startswith("mp:") and "13912345678" not in row.comment
    r = mp.call("POST", "/api/mp/ratings", token, json_body={"score": 5})
    assert r.status == 201 and not r.body["flagged"] and r.body["label"] == "非常满意"
    for bad in ({"score": 6}, {"score": "5"}, {"score": True}, {}):
        assert mp.call("POST", "/api/mp/ratings", token, json_body=bad).status == 400
    assert mp.call("POST", "/api/mp/ratings", token, json_body={"score": 3, "bundle_id": "nope"}).status == 404


def test_subscriptions(mp):
    code = _code("subscriber")
    token, openid = mp.login(code), openid_for_code(code)
    url = "/api/mp/subscriptions"
    r = mp.call("POST", url, token, json_body={"template_id": "tmpl-status-0001", "accept": True})
    assert r.status == 200 and r.body["subscriptions"] == [
        {"template_id": "tmpl-status-0001", "accepted": True, "remaining": 1}]
    r = mp.call("POST", url, token, json_body={"results": {"tmpl-status-0001": "accept"}})
    assert r.body["subscriptions"][0]["remaining"] == 2
    r = mp.call("POST", url, token, json_body={"template_id": "tmpl-status-0001", "accept": False})
    assert r.body["subscriptions"][0]["remaining"] == 2
    with session_factory()() as s:
        row = s.execute(select(MpSubscription).where(MpSubscription.openid == openid)).scalar_one()
        assert row.template_id == "tmpl-status-0001" and row.remaining == 2
    assert mp.call("POST", url, token, json_body={"template_id": "unknown", "accept": True}).status == 400
    assert mp.call("POST", url, token, json_body={"template_id": "tmpl-status-0001"}).status == 400


# -- input limits -------------------------------------------------------------------
def test_malformed_json_wrong_shapes_and_huge_bodies(mp, token):
    url = "/api/mp/applications"
    r = mp.call("POST", url, token, data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.body["error"] == "bad_json" and "JSON" in r.body["message"]
    assert mp.call("POST", url, token, json_body=[1, 2]).status == 400
    assert mp.call("POST", url, token, json_body={"bundle_id": 5}).status == 400
    assert mp.call("POST", url, token, json_body={"bundle_id": "newborn", "values": "x"}).status == 400
    huge = {"bundle_id": "newborn", "values": {"birth_hospital": "医" * 20000}}
    r = mp.call("POST", url, token, json_body=huge)
    assert r.status == 413 and r.body["error"] == "too_large"
    r = mp.call("POST", "/api/mp/login", data=b"\xff\xfe", headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert mp.call("POST", "/api/mp/chat", token, json_body={"message": ""}).status == 400
    assert mp.call("POST", "/api/mp/chat", token, json_body={"message": "长" * 1001}).status == 422


def test_content_safety_check_when_configured(mp, monkeypatch, fake_wechat):
    token = mp.login(_code("safety"))
    monkeypatch.setenv("WECHAT_MP_SEC_CHECK", "1")
    r = mp.call("POST", "/api/mp/ratings", token, json_body={"score": 1, "comment": "这里可以赌博吗"})
    assert r.status == 422 and r.body["error"] == "content_risky" and "请修改" in r.body["message"]
    r = mp.call("POST", "/api/mp/applications", token, json_body={
        "bundle_id": "newborn", "submit": False, "values": {"birth_hospital": "代开发票医院"}})
    assert r.status == 422 and r.body["error"] == "content_risky"
    r = mp.call("POST", "/api/mp/chat", token, json_body={"message": "赌博"})
    assert r.status == 422 and r.body["error"] == "content_risky"
    assert fake_wechat.calls("/wxa/msg_sec_check")
    r = mp.call("POST", "/api/mp/ratings", token, json_body={"score": 4, "comment": "办得很快"})
    assert r.status == 201
    monkeypatch.delenv("WECHAT_MP_SEC_CHECK")
    r = mp.call("POST", "/api/mp/ratings", token, json_body={"score": 1, "comment": "这里可以赌博吗"})
    assert r.status == 201


def test_login_is_rate_limited_per_address(mp):
    """Issue 8, item 10: /api/mp/login had no rate limit (each call costs a code2Session)."""
    from backend.miniprogram.auth import LOGIN_LIMIT

    root = mp.client.server.app  # the limiter lives on the mini-program sub-app
    subapps = [r.get_info()["app"] for r in root.router.resources() if "app" in r.get_info()]
    limiter = next(a[LOGIN_LIMIT] for a in subapps if LOGIN_LIMIT in a)
    saved, limiter.limit = limiter.limit, 3
    limiter._hits.clear()
    try:
        statuses = [mp.call("POST", "/api/mp/login", json_body={"code": _code(f"flood{i}")}).status
                    for i in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        refused = mp.call("POST", "/api/mp/login", json_body={"code": _code("flood9")})
        assert refused.body["error"] == "too_many_requests" and refused.body["retry_after"] >= 1
    finally:
        limiter.limit = saved
        limiter._hits.clear()
