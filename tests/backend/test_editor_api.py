"""The content editors' API over real HTTP: auth, validation, draft vs live, diff,
export/import, the model server's ETag protocol and the publishing rules.

(Training itself is in tests/dialogue/test_editor_publish.py, with a tiny model.)"""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml

from bot.config import DATA_DIR
from bot.content.store import ContentStore, snapshot
from tests.backend.conftest import logged_in

REFERENCE_BUNDLE = "kindergarten_school_enrolment"


@pytest.fixture(scope="module")
def editor(server, people):
    return logged_in(server, people("editor"))


@pytest.fixture(scope="module")
def publisher(server, people):
    return logged_in(server, people("editor", "publisher"))


@pytest.fixture(autouse=True)
def no_draft(server):
    """Each test starts without a draft (the test database is shared)."""
    from bot.staff.audit import Actor

    ContentStore().discard_draft(Actor("test"))
    yield


def test_no_session_is_401_and_agent_is_403(server, browser, people):
    assert browser.call("GET", "/api/editor/bundles").status == 401
    assert browser.call("POST", "/api/editor/trainings", {}).status == 401
    assert browser.call("POST", "/api/editor/models/x/publish", {}).status == 401
    agent = logged_in(server, people("agent"))
    assert agent.call("GET", "/api/editor/bundles").status == 403
    assert agent.call("PUT", "/api/editor/bundles/newborn", {"id": "newborn"}).status == 403


def test_state_changes_need_the_csrf_token(editor):
    reply = editor.call("POST", "/api/editor/bundles/newborn/synonyms", {"text": "添丁"}, csrf=False)
    assert reply.status == 403 and reply.error == "csrf"
    reply = editor.call("POST", "/api/editor/bundles/newborn/synonyms", {"text": "添丁"}, csrf="wrong")
    assert reply.status == 403
    assert "添丁" not in editor.call("GET", "/api/editor/bundles/newborn").body.get("synonyms", [])


def test_editor_without_publisher_gets_403_on_publish_and_export(editor):
    assert editor.call("POST", "/api/editor/models/anything/publish", {}).status == 403
    assert editor.call("POST", "/api/editor/export", {}).status == 403


def test_bundle_reads_in_the_shape_of_the_yaml_file(editor):
    reply = editor.call("GET", "/api/editor/bundles")
    assert reply.status == 200
    ids = {b["id"] for b in reply.body["bundles"]}
    assert {"newborn", "after_death", "enterprise_opening"} <= ids
    newborn = editor.call("GET", "/api/editor/bundles/newborn").body
    assert newborn == yaml.safe_load((DATA_DIR / "bundles" / "newborn.yml").read_text(encoding="utf-8"))
    assert editor.call("GET", "/api/editor/bundles/no_such").status == 404


def test_invalid_bundle_is_422_naming_each_field_and_nothing_is_saved(editor):
    bundle = editor.call("GET", "/api/editor/bundles/newborn").body
    bad = copy.deepcopy(bundle)
    bad["items"][0]["department"] = "no_such_department"
    bad["items"][1]["materials"][0]["doc"] = "no_such_material"
    reply = editor.call("PUT", "/api/editor/bundles/newborn", bad)
    assert reply.status == 422, reply.body
    fields = {p["field"] for p in reply.body["problems"]}
    assert {"items[0].department", "items[1].materials[0].doc"} <= fields
    assert all(p["file"] == "bundles/newborn.yml" for p in reply.body["problems"])
    assert editor.call("GET", "/api/editor/bundles/newborn").body == bundle
    assert editor.call("GET", "/api/editor/versions").body["draft"] is None
    # the id in the body must be the one in the address
    assert editor.call("PUT", "/api/editor/bundles/newborn", {**bundle, "id": "other"}).status == 422


def test_edits_go_into_a_draft_live_is_untouched_and_the_diff_says_what_changed(editor, kb):
    before_live = editor.call("GET", "/api/editor/bundles/newborn?version=live").body
    reply = editor.call("POST", "/api/editor/bundles/newborn/synonyms", {"text": "添了个娃"})
    assert reply.status == 201, reply.body
    draft = editor.call("GET", "/api/editor/bundles/newborn").body
    assert "添了个娃" in draft["synonyms"]
    assert editor.call("GET", "/api/editor/bundles/newborn?version=live").body == before_live
    assert "添了个娃" not in kb.bundle("newborn").synonyms  # citizens still get the live content
    versions = editor.call("GET", "/api/editor/versions").body
    assert versions["draft"] and versions["draft"] != versions["live"]
    # an item's time limit changed too
    changed = copy.deepcopy(draft)
    changed["items"][0]["working_days"] = 99
    assert editor.call("PUT", "/api/editor/bundles/newborn", changed).status == 200
    diff = editor.call("GET", "/api/editor/diff?bundle=newborn").body
    assert [f["bundle"] for f in diff["files"]] == ["newborn"]
    changes = diff["files"][0]["changes"]
    assert {"path": "synonyms", "change": "added", "before": None, "after": "添了个娃"} in changes
    assert {"path": "items.birth_medical_certificate.working_days",
            "change": "changed" if "working_days" in draft["items"][0] else "added",
            "before": draft["items"][0].get("working_days"), "after": 99} in changes
    # the same draft: a second edit does not make another version
    assert editor.call("GET", "/api/editor/versions").body["draft"] == versions["draft"]


def test_nlu_example_is_checked_and_added(editor):
    bad = editor.call("POST", "/api/editor/nlu/examples", {"intent": "no_such", "text": ""})
    assert bad.status == 422
    assert {p["field"] for p in bad.body["problems"]} == {"intent", "text"}
    assert editor.call("POST", "/api/editor/nlu/examples",
                       {"intent": "ask_materials", "text": "[x](no_entity)要啥"}).status == 422
    ok = editor.call("POST", "/api/editor/nlu/examples",
                     {"intent": "ask_materials", "text": "[添丁](bundle)要带啥"})
    assert ok.status == 201, ok.body
    examples = editor.call("GET", "/api/editor/nlu/examples").body["examples"]
    assert {"intent": "ask_materials", "text": "[添丁](bundle)要带啥"} in examples
    assert editor.call("POST", "/api/editor/nlu/examples",
                       {"intent": "ask_materials", "text": "[添丁](bundle)要带啥"}).status == 422


def test_documents_materials_and_normalisation_are_validated_the_same_way(editor):
    materials = editor.call("GET", "/api/editor/documents/materials").body
    some = next(iter(materials))
    broken = {k: v for k, v in materials.items() if k != some}
    reply = editor.call("PUT", "/api/editor/documents/materials", broken)
    assert reply.status == 422  # a bundle still uses it
    assert any(some in p["message"] for p in reply.body["problems"])
    norm = editor.call("GET", "/api/editor/documents/normalization")
    assert norm.status == 200
    assert editor.call("GET", "/api/editor/documents/../secrets").status in (403, 404)
    assert editor.call("GET", "/api/editor/documents/forms/newborn").status == 200


KINDERGARTEN = {
    "id": REFERENCE_BUNDLE, "name": "入园入学", "audience": "personal",
    "description": "孩子上幼儿园、小学、初中的报名和信息核验，一次提交。",
    "lead_department": "gd_education",
    "synonyms": ["入学报名", "小一报名", "幼升小", "小升初", "报学位", "积分入学"],
    "items": [{"id": "compulsory_education_enrolment", "name": "义务教育入学报名（信息核验）",
               "department": "gd_education", "choice": "optional",
               "materials": [{"doc": "hukou_booklet", "holder": "监护人与适龄儿童"},
                             {"doc": "id_card", "holder": "监护人"}],
               "working_days": 20, "fee": "免费", "online": "yes"}]}
EDUCATION = {"name": "广东省教育厅", "national_name": "教育部门",
             "where": "区教育局招生窗口或当地招生报名平台"}


def add_kindergarten(call) -> None:
    """入园入学 (shared/reference, an extension): no longer "handled elsewhere", its
    department, then the bundle."""
    elsewhere = call("GET", "/api/editor/documents/elsewhere").body
    for section in elsewhere.values():
        if isinstance(section, dict):
            section.pop("school_admission", None)
    reply = call("PUT", "/api/editor/documents/elsewhere", elsewhere)
    assert reply.status == 200, reply.body
    departments = call("GET", "/api/editor/documents/departments").body
    reply = call("PUT", "/api/editor/documents/departments", {**departments, "gd_education": EDUCATION})
    assert reply.status == 200, reply.body
    reply = call("PUT", f"/api/editor/bundles/{REFERENCE_BUNDLE}", KINDERGARTEN)
    assert reply.status == 200, reply.body


def test_a_new_bundle_from_the_reference_can_be_added(editor):
    # without its department first: refused, naming the field
    reply = editor.call("PUT", f"/api/editor/bundles/{REFERENCE_BUNDLE}", KINDERGARTEN)
    assert reply.status == 422
    assert "lead_department" in {p["field"] for p in reply.body["problems"]}
    add_kindergarten(editor.call)
    ids = {b["id"] for b in editor.call("GET", "/api/editor/bundles").body["bundles"]}
    assert REFERENCE_BUNDLE in ids
    live_ids = {b["id"] for b in editor.call("GET", "/api/editor/bundles?version=live").body["bundles"]}
    assert REFERENCE_BUNDLE not in live_ids


def test_export_and_import_round_trip(publisher, tmp_path, monkeypatch):
    """A version exported into data/ and imported back is the same content."""
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data, ignore=shutil.ignore_patterns("generated"))
    store = ContentStore()
    from bot.staff.audit import Actor

    actor = Actor("test-export")
    store.add_synonym("after_death", "老人家走咗", actor)
    draft = store.files("draft")
    written = store.export("draft", data)
    assert written == ["bundles/after_death.yml"]
    assert snapshot(data) == draft
    store.discard_draft(actor)
    store.import_(actor, data)
    assert store.files("draft") == draft
    assert store.diff("live", "draft")[0]["bundle"] == "after_death"
    # an invalid data/ is refused whole
    (data / "bundles" / "after_death.yml").write_text("id: after_death\nname: [\n", encoding="utf-8")
    from bot.content.store import ContentInvalid

    with pytest.raises(ContentInvalid):
        store.import_(actor, data)


def test_model_server_needs_its_secret_and_answers_304_to_the_etag(server, browser, tmp_path):
    """Rasa's protocol: the live file with an ETag; 304 for the ETag it has; the new file
    after a publish. (A real Rasa server pulling it: tests/editor/.)"""
    from sqlalchemy import delete

    from backend.model_server import model_server_secret
    from bot.content.tables import ContentLive
    from bot.db import session_scope
    from tests.bot.test_content_publish import PUBLISHER, _trained

    assert browser.call("GET", "/api/models/live").status == 401
    assert browser.call("GET", "/api/models/live", headers={"Authorization": "Bearer nope"}).status == 401
    auth = {"Authorization": f"Bearer {model_server_secret()}"}
    with session_scope() as s:
        s.execute(delete(ContentLive))
    assert browser.call("GET", "/api/models/live", headers=auth).status == 404
    from bot.content.models import Models

    try:
        first, _, _ = _trained(tmp_path, "served-first", passed=True)
        Models().publish(first, PUBLISHER)
        got = browser.call("GET", "/api/models/live", headers=auth)
        assert got.status == 200, (got.status, got.body)
        assert got.headers.get("ETag", got.headers.get("Etag")) == first, got.headers
        assert got.body == (tmp_path / "served-first.tar.gz").read_bytes().decode("utf-8", "replace")
        assert browser.call("GET", "/api/models/live", headers={**auth, "If-None-Match": first}).status == 304
        second, _, _ = _trained(tmp_path, "served-second", passed=True)
        Models().publish(second, PUBLISHER)
        again = browser.call("GET", "/api/models/live", headers={**auth, "If-None-Match": first})
        assert again.status == 200 and again.headers.get("ETag", again.headers.get("Etag")) == second
    finally:
        with session_scope() as s:
            s.execute(delete(ContentLive))


def test_training_progress_streams_as_server_sent_events(editor):
    """A finished job: one event with its final state, then the stream ends."""
    from bot.content.training import Trainings
    from bot.staff.audit import Actor

    trainings = Trainings()
    job = trainings.request(Actor("test-sse"))
    assert trainings.claim() == job
    trainings.progress(job, 0.4, "training LinearIntentClassifier")
    trainings.finish(job, error="训练失败：某个训练数据文件格式有误。")
    reply = editor.call("GET", f"/api/editor/trainings/{job}/events")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/event-stream")
    events = [line[6:] for line in reply.body.splitlines() if line.startswith("data: ")]
    import json

    last = json.loads(events[-1])
    assert last["state"] == "failed" and last["error"].startswith("训练失败")
    got = editor.call("GET", f"/api/editor/trainings/{job}").body
    assert got["state"] == "failed" and got["log"][0]["stage"] == "training LinearIntentClassifier"
    assert editor.call("GET", "/api/editor/trainings/999999").status == 404
    assert editor.call("GET", "/api/editor/trainings/abc").status == 404
