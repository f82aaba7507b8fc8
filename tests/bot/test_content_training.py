"""A training that fails says so in plain words, keeps the technical detail in its log,
and the worker goes on with the queue."""

from __future__ import annotations

from bot.content.store import ContentStore
from bot.content.training import Trainings, work
from bot.staff.audit import Actor


def test_a_failed_training_says_why_in_plain_words(database_url, tmp_path, monkeypatch):
    broken = tmp_path / "config.yml"
    # an unknown component: Rasa stops at building the graph, before reading any data
    broken.write_text("recipe: default.v1\nlanguage: zh\npipeline:\n  - name: NoSuchComponent\n"
                      "policies:\n  - name: RulePolicy\n", encoding="utf-8")
    monkeypatch.setenv("YJS_TRAIN_CONFIG", str(broken))
    ContentStore().discard_draft(Actor("test"))
    trainings = Trainings()
    job = trainings.request(Actor("test-failing"), "live")
    work(trainings, once=True)
    got = trainings.get(job)
    assert got["state"] == "failed" and got["model"] is None
    assert got["error"].startswith("训练失败") and "Traceback" not in got["error"]
    assert any("NoSuchComponent" in (e.get("detail") or "") for e in got["log"])
    assert trainings.claim() is None  # nothing left half-claimed
