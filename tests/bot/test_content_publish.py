"""Publishing rules, the comparison with the live model, and the content pinning of the
actions — without training: the model files here are real tar.gz archives holding
only the metadata Rasa writes (model_id), which is all publishing and the model server
read. (A real training, switch and rollback: tests/editor/test_editor_publish.py.)"""

from __future__ import annotations

import io
import json
import tarfile
import uuid

import pytest
from sqlalchemy import delete

from bot.content.evaluation import compare
from bot.content.models import Models, PublishRefused
from bot.content.pinning import MODEL_ID, VersionedKnowledge
from bot.content.store import ContentStore
from bot.content.tables import ContentLive, TrainedModel
from bot.db import session_scope
from bot.staff.audit import Actor

EDITOR, PUBLISHER = Actor("ed-publish-test"), Actor("pub-publish-test")


def _model_file(tmp_path, name: str) -> tuple:
    rasa_id = uuid.uuid4().hex
    path = tmp_path / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        raw = json.dumps({"model_id": rasa_id}).encode()
        info = tarfile.TarInfo("metadata.json")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return path, rasa_id


def _scores(intent: float, bundle: float, right: list[bool]) -> dict:
    return {"n": len(right), "intent_accuracy": intent, "bundle_accuracy": bundle,
            "per_intent_f1": {}, "right": right, "understood": [["greet", None]] * len(right)}


@pytest.fixture
def clean(database_url):
    with session_scope() as s:
        s.execute(delete(ContentLive))
    ContentStore().discard_draft(Actor("test"))
    yield
    with session_scope() as s:
        s.execute(delete(ContentLive))
    MODEL_ID.set(None)


def _trained(tmp_path, name: str, *, passed: bool | None, edit: str | None = None) -> tuple[str, str, int]:
    store, models = ContentStore(), Models()
    if edit:
        store.add_synonym("newborn", edit, EDITOR)
    with session_scope() as s:
        version = store.freeze(s, "draft").id
    path, rasa_id = _model_file(tmp_path, name)
    model_id = models.register(path, version, EDITOR.name)
    if passed is not None:
        with session_scope() as s:
            row = s.get(TrainedModel, model_id)
            row.evaluation = {"result": {"intent_accuracy": 0.9, "bundle_accuracy": 0.9, "passed": passed,
                                         "why": [] if passed else ["意图准确率 80.0%，比线上模型的 90.0% 低了超过 1%"],
                                         "live": None}}
    return model_id, rasa_id, version


def test_compare_names_why_and_the_messages_that_got_worse():
    cases = [{"text": "a", "intent": "greet"}, {"text": "b", "intent": "greet"}]
    live = _scores(0.9, 0.9, [True, True])
    same = compare(_scores(0.895, 0.9, [True, True]), live, tol=0.01, data=cases)
    assert same["passed"] and same["worse"] == [] and same["live"]["intent_accuracy"] == 0.9
    worse = compare(_scores(0.5, 0.9, [True, False]), live, tol=0.01, data=cases)
    assert not worse["passed"] and "意图准确率" in worse["why"][0]
    assert [w["text"] for w in worse["worse"]] == ["b"]
    assert compare(_scores(0.1, 0.1, [False, False]), None)["passed"]  # nothing live yet


def test_failed_evaluation_is_409_with_why_and_nothing_changes(clean, tmp_path):
    model_id, _, _ = _trained(tmp_path, "m-bad", passed=False)
    with pytest.raises(PublishRefused) as refused:
        Models().publish(model_id, PUBLISHER)
    assert refused.value.status == 409 and "意图准确率" in refused.value.why[0]
    assert Models().live() is None
    unevaluated, _, _ = _trained(tmp_path, "m-none", passed=None)
    with pytest.raises(PublishRefused) as refused:
        Models().publish(unevaluated, PUBLISHER)
    assert refused.value.code == "not_evaluated"


def test_the_editor_of_a_draft_cannot_publish_it_alone(clean, tmp_path, monkeypatch):
    model_id, _, _ = _trained(tmp_path, "m-own", passed=True, edit="自己改的叫法")
    with pytest.raises(PublishRefused) as refused:
        Models().publish(model_id, EDITOR)
    assert refused.value.status == 403 and refused.value.code == "four_eyes"
    monkeypatch.setenv("YJS_ONE_PERSON_TEAM", "1")
    assert Models().publish(model_id, EDITOR)["changed"] is True


def test_publish_switches_content_and_rollback_needs_no_evaluation(clean, tmp_path, kb):
    first, _, _ = _trained(tmp_path, "m-first", passed=True)
    assert Models().publish(first, PUBLISHER)["changed"]
    second, _, second_version = _trained(tmp_path, "m-second", passed=True, edit="添咗个BB仔")
    result = Models().publish(second, PUBLISHER)
    assert result == {"model": second, "previous": first, "changed": True, "rollback": False,
                      "content_version": second_version}
    assert "添咗个BB仔" in kb.bundle("newborn").synonyms  # the seeded tables follow the model
    assert ContentStore().live_version_id() == second_version
    # `python -m bot init` (make run) seeds this version from now on, not data/
    from bot.content.store import live_knowledge_base

    seeded = {b.id: b for b in live_knowledge_base().bundles}
    assert "添咗个BB仔" in seeded["newborn"].synonyms
    # roll back: the first model has been live, so its old evaluation is not asked again
    with session_scope() as s:
        s.get(TrainedModel, first).evaluation = None
    with session_scope() as s:  # the second version was trained (as the console does it)
        from bot.clock import now
        from bot.content.tables import Training

        s.add(Training(content_version_id=second_version, state="succeeded", progress=1.0,
                       stage="done", log=[], requested_by=EDITOR.name, created_at=now()))
    back = Models().publish(first, PUBLISHER)
    assert back["rollback"] is True and Models().live().id == first
    assert "添咗个BB仔" not in kb.bundle("newborn").synonyms
    # the next edit starts from the rolled-back-to content, not from the version undone
    assert "添咗个BB仔" not in (ContentStore().bundle("newborn").get("synonyms") or [])


def test_actions_answer_from_the_content_of_the_model_that_understood_the_turn(clean, tmp_path):
    """While servers switch, a turn of the new model gets the new content and a turn of the
    old model the old content, whatever is live in the tables."""
    old, old_rasa, _ = _trained(tmp_path, "m-old", passed=True)
    Models().publish(old, PUBLISHER)
    new, new_rasa, _ = _trained(tmp_path, "m-new", passed=True, edit="新叫法宝宝")
    knowledge = VersionedKnowledge()
    MODEL_ID.set(new_rasa)  # the new model understood this turn; the old one is still live
    assert "新叫法宝宝" in knowledge.bundle("newborn").synonyms
    MODEL_ID.set(old_rasa)
    assert "新叫法宝宝" not in knowledge.bundle("newborn").synonyms
    Models().publish(new, PUBLISHER)
    MODEL_ID.set(old_rasa)  # a server still on the old model after the publish
    assert "新叫法宝宝" not in knowledge.bundle("newborn").synonyms
    MODEL_ID.set(None)
    assert "新叫法宝宝" in knowledge.bundle("newborn").synonyms


def test_editing_after_a_training_continues_from_what_was_trained(clean):
    """Train a draft, read its evaluation, edit again: the new draft holds the trained
    edits too (it is made from the trained version, not from live), and whoever edited
    the trained version still counts as an editor of the new draft (four eyes)."""
    from bot.content.tables import ContentVersion, Training
    from bot.content.training import Trainings

    store, other = ContentStore(), Actor("ed2-publish-test")
    store.add_synonym("newborn", "添丁继续甲", EDITOR)
    job = Trainings().request(EDITOR, "draft")
    try:
        assert "添丁继续甲" in store.bundle("newborn")["synonyms"]  # still what an edit starts from
        store.add_synonym("newborn", "添丁继续乙", other)
        assert {"添丁继续甲", "添丁继续乙"} <= set(store.bundle("newborn")["synonyms"])
        with session_scope() as s:
            draft = store._draft(s)
            assert set(draft.editors) == {EDITOR.name, other.name}
            assert draft.parent_id == s.get(Training, job).content_version_id
            assert s.get(ContentVersion, store.live_version_id(s)).files != draft.files
    finally:
        with session_scope() as s:
            s.get(Training, job).state = "failed"  # never left for a worker
        store.discard_draft(Actor("test"))
    # with the draft discarded and nothing trained on top of live, edits start from live
    with session_scope() as s:
        s.query(Training).filter(Training.id == job).delete()
    assert "添丁继续甲" not in (store.bundle("newborn").get("synonyms") or [])
