"""Submitting and tracking applications, and department updates, through the
real service and database."""

from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.applications.lifecycle import TransitionError
from bot.applications.outbox import Outbox
from bot.applications.ratings import Ratings, parse_score
from bot.applications.service import (
    Applications,
    Forbidden,
    IncompleteForm,
    NotFound,
)
from bot.db import session_scope
from bot.models import ApplicationEvent
from tests.bot.applications.values import answer_for, make_id, submit_concurrently

_n = iter(range(10**6))


@pytest.fixture(scope="module")
def apps(kb):
    return Applications(kb)


def filled_draft(apps, bundle_id: str, items: list[str] | None = None):
    sender = f"svc-{next(_n)}"
    draft = apps.start(sender, bundle_id)
    draft.items = items or [it.key for it in apps.kb.bundle(bundle_id).items]
    form = apps.form(bundle_id)
    from bot.applications.validation import check

    for spec in form.fields_for(draft.items):
        draft.values[spec.id] = check(spec, answer_for(spec), draft.values).value
    draft.stage = "confirm"
    return apps.save(draft)


def test_submit_creates_one_sub_application_per_item_routed_to_its_department(apps):
    draft = filled_draft(apps, "newborn")
    app = apps.submit(draft.id)
    bundle = apps.kb.bundle("newborn")
    assert app.number.startswith("YJS-") and len(app.number) == len("YJS-20261125-000123")
    assert [s.item_key for s in app.subs] == [it.key for it in bundle.items]
    assert [s.department_id for s in app.subs] == [it.department.id for it in bundle.items]
    assert {s.state for s in app.subs} == {"submitted"}


def test_numbers_are_sequential_within_a_day(apps):
    a = apps.submit(filled_draft(apps, "after_death").id)
    b = apps.submit(filled_draft(apps, "after_death").id)
    assert a.number[:13] == b.number[:13] and int(b.number[-6:]) == int(a.number[-6:]) + 1


def test_submitting_twice_creates_exactly_one(apps):
    draft = filled_draft(apps, "employee_retirement")
    first, second = apps.submit(draft.id), apps.submit(draft.id)
    assert first.number == second.number
    assert len(apps.applications(draft.sender)) == 1


def test_concurrent_submits_create_exactly_one(apps):
    draft = filled_draft(apps, "flexible_employment")
    numbers, errors = submit_concurrently(apps, draft.id, 6)
    assert not errors and len(set(numbers)) == 1
    assert len(apps.applications(draft.sender)) == 1


def test_incomplete_form_is_refused_and_names_what_is_missing(apps):
    draft = apps.start(f"svc-{next(_n)}", "newborn")
    draft.items = ["birth_medical_certificate"]
    draft.values = {"applicant_id_number": make_id()}
    apps.save(draft)
    with pytest.raises(IncompleteForm) as err:
        apps.submit(draft.id)
    assert "申请人姓名" in err.value.missing
    assert apps.applications(draft.sender) == []


def test_unknown_bundle_is_refused(apps):
    from bot.kb.service import UnknownBundle

    with pytest.raises(UnknownBundle):
        apps.start("svc-x", "moon_landing")


def test_personal_data_is_encrypted_at_rest(apps, database_url):
    path = Path(database_url.removeprefix("sqlite:///"))

    def raw() -> bytes:
        wal = Path(f"{path}-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    # The sample values may already be in the file as content (a form's example phone in
    # a stored content version): what counts is that saving and submitting adds none.
    before = raw()
    draft = filled_draft(apps, "marriage_childbirth")
    apps.submit(draft.id)
    after = raw()
    for secret in (draft.values["applicant_id_number"], draft.values["applicant_phone"]):
        assert after.count(secret.encode()) <= before.count(secret.encode()), secret


def test_department_transitions_history_and_outbox(apps):
    draft = filled_draft(apps, "newborn", ["birth_medical_certificate", "birth_hukou_registration"])
    app = apps.submit(draft.id)
    cert, hukou = app.subs
    dept = cert.department_id
    apps.transition(dept, cert.id, "accepted")
    apps.transition(dept, cert.id, "needs_more", "母亲的分娩记录")
    apps.transition(dept, cert.id, "accepted")
    apps.transition(dept, cert.id, "approved", "出生医学证明编号 Q440123456")
    number, sub = apps.transition(dept, cert.id, "completed", "电子证照已推送")
    assert number == app.number and sub.state == "completed"

    with pytest.raises(TransitionError, match="cannot go from completed to accepted"):
        apps.transition(dept, cert.id, "accepted")
    with pytest.raises(TransitionError, match="needs `reason`"):
        apps.transition(hukou.department_id, hukou.id, "rejected")
    with pytest.raises(TransitionError, match="unknown state"):
        apps.transition(hukou.department_id, hukou.id, "teleported")
    with pytest.raises(Forbidden):
        apps.transition("gd_hrss", hukou.id, "accepted")
    with pytest.raises(NotFound):
        apps.transition(dept, 10**9, "accepted")

    detail = apps.application(app.number, sender=draft.sender)
    assert [e.to_state for e in detail.history if e.item == cert.item_name] == [
        "submitted", "accepted", "needs_more", "accepted", "approved", "completed"]
    assert detail.status == "in_progress"
    apps.transition(hukou.department_id, hukou.id, "rejected", "户籍地址不在本市")
    assert apps.application(app.number).status == "completed"

    kinds = [n.kind for n in Outbox().for_recipient(draft.sender)]
    assert kinds[0] == "submitted" and kinds.count("state_changed") == 6 and kinds[-1] == "rate_invite"
    texts = [n.payload["text"] for n in Outbox().for_recipient(draft.sender)]
    assert any("还需要：母亲的分娩记录" in t for t in texts)
    with pytest.raises(NotFound):
        apps.application(app.number, sender="someone-else")


def test_history_is_append_only_in_the_database(apps):
    apps.submit(filled_draft(apps, "veteran_retirement").id)
    with session_scope() as session:
        event_id = session.execute(select(ApplicationEvent.id).limit(1)).scalar_one()
    for sql in (f"UPDATE app_events SET to_state='completed' WHERE id={event_id}",
                f"DELETE FROM app_events WHERE id={event_id}"):
        with pytest.raises(Exception, match="append-only"), session_scope() as session:
            session.execute(text(sql))


def test_outbox_retries_with_backoff():
    from bot.applications import outbox

    with session_scope() as session:
        for n in range(2):
            outbox.enqueue(session, "outbox-test", "test", f"消息{n}")
    box = Outbox()
    due = [n for n in box.due(limit=10**6) if n.recipient == "outbox-test"]
    assert len(due) == 2
    first = due[0]
    box.mark_failed(first.id, "wechat down")
    assert first.id not in [n.id for n in box.due(limit=1000)]
    box.mark_sent(due[1].id)
    assert due[1].id not in [n.id for n in box.due(limit=1000)]


@pytest.mark.parametrize(("text", "score", "comment"), [
    ("非常满意", 5, ""), ("非常不满意，排队太久了", 1, "排队太久了"), ("满意", 4, ""),
    ("不满意", 2, ""), ("给5分", 5, ""), ("一般般啦", 3, ""), ("好评！", 5, ""), ("你好", None, "你好"),
])
def test_parse_rating(text, score, comment):
    assert parse_score(text) == (score, comment)


def test_ratings_tied_to_application_and_flagged(apps, kb):
    draft = filled_draft(apps, "newborn", ["vaccination_certificate"])
    app = apps.submit(draft.id)
    low = Ratings(kb).rate(draft.sender, 2, "等太久 13800138000", application_number=app.number)
    assert low.flagged and low.bundle_id == "newborn"
    assert apps.kb.bundle("newborn").item("vaccination_certificate").department.id in low.department_ids
    high = Ratings(kb).rate(draft.sender, 5, bundle_id="after_death")
    assert not high.flagged and high.bundle_id == "after_death"
    from bot.models import Rating

    with session_scope() as session:
        stored = session.get(Rating, low.id)
        assert stored.comment == "等太久 138****8000" and stored.application_id is not None
