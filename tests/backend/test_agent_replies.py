"""The agents' canned replies come from the knowledge base the bot answers from, for
the conversation's bundle and chosen items; only agents may read them."""

from __future__ import annotations

from bot.staff.accounts import AGENT, EDITOR
from tests.backend.conftest import logged_in


def test_bundle_replies_name_the_bundles_materials_departments_and_time_limits(server, people, kb):
    agent = logged_in(server, people(AGENT, prefix="kb"))
    reply = agent.call("GET", "/api/agent/replies?bundle=newborn")
    assert reply.status == 200, reply.body
    by_key = {r["key"]: r for r in reply.body["replies"]}
    assert set(by_key) >= {"cl", "bm", "sx"}
    bundle = kb.bundle("newborn")
    materials = by_key["cl"]["text"]
    assert materials.startswith("办理「新生儿出生」需要准备")
    for need in kb.materials("newborn"):
        if not need.produced_by:
            assert need.name in materials
    assert all(it.department.name in by_key["bm"]["text"] for it in bundle.items)
    assert "工作日" in by_key["sx"]["text"]
    general = {r["key"] for r in reply.body["general"]}
    assert {"nh", "jj"} <= general


def test_replies_for_chosen_items_leave_the_other_items_out(server, people, kb):
    agent = logged_in(server, people(AGENT, prefix="kb"))
    bundle = kb.bundle("newborn")
    first, other = bundle.items[0], bundle.items[-1]
    reply = agent.call("GET", f"/api/agent/replies?bundle=newborn&items={first.key}")
    times = {r["key"]: r for r in reply.body["replies"]}["sx"]["text"]
    assert times.count("\n· ") == 1
    assert other.name.split("（")[0] not in times


def test_unknown_bundle_is_404_and_bundle_names_and_departments_are_listed(server, people):
    agent = logged_in(server, people(AGENT, prefix="kb"))
    assert agent.call("GET", "/api/agent/replies?bundle=nope").status == 404
    bundles = agent.call("GET", "/api/agent/bundles").body["bundles"]
    assert {"id": "newborn", "name": "新生儿出生", "lead_department": "gd_health"} in bundles
    departments = agent.call("GET", "/api/agent/departments").body["departments"]
    assert any(d["id"] == "gd_health" for d in departments)


def test_replies_need_an_agent_session(server, people, browser):
    assert browser.call("GET", "/api/agent/replies?bundle=newborn").status == 401
    editor = logged_in(server, people(EDITOR, prefix="kb"))
    assert editor.call("GET", "/api/agent/replies?bundle=newborn").status == 403
    assert editor.call("GET", "/api/agent/bundles").status == 403
