"""The handoff service on the test database: queue, claim (one agent wins), time-outs,
agent messages handed over once, the feed, hours, work orders."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import pytest

from bot.handoff.config import HandoffSettings, parse_hours
from bot.handoff.service import Handoff, HandoffError
from bot.staff.accounts import StaffAccounts
from bot.staff.audit import Actor, AuditLog

ALWAYS = HandoffSettings(shifts=None, agent_timeout=60, categories={"consult": "咨询"})


@pytest.fixture
def handoff(database_url) -> Handoff:
    return Handoff(config=ALWAYS)


@pytest.fixture
def agents(database_url):
    accounts = StaffAccounts()

    def make() -> Actor:
        name = f"ag-{secrets.token_hex(4)}"
        acc, *_ = accounts.add_or_update(name, ["agent"], "pw-" + secrets.token_urlsafe(12),
                                     actor=Actor("test"))
        return Actor(acc.username, acc.id, "127.0.0.1")

    return make


def sender() -> str:
    return f"rest-{secrets.token_hex(6)}"


def test_request_queues_with_context_and_position(handoff):
    a, b = sender(), sender()
    qa = handoff.request(a, "request_human", {"bundle": "newborn"},
                         [("citizen", "孩子出生要办什么", 1.0), ("bot", "新生儿出生包含…", 2.0)])
    qb = handoff.request(b, "fallback")
    assert qa.state == qb.state == "waiting" and qa.staffed and not qa.already
    assert qb.ahead >= qa.ahead + 1 and qb.minutes >= 2 * ALWAYS.minutes_per_citizen
    again = handoff.request(a, "request_human")
    assert again.already and again.conversation_id == qa.conversation_id
    conv = handoff.get(qa.conversation_id)
    assert conv.context["bundle"] == "newborn" and conv.reason == "request_human"
    assert [m.role for m in handoff.messages(conv.id)] == ["citizen", "bot"]
    assert a not in str(conv.summary())  # opaque id, masked citizen
    ids = [c.id for c in handoff.conversations("waiting")]
    assert ids.index(qa.conversation_id) < ids.index(qb.conversation_id)


def test_outside_staffed_hours_a_call_back_ticket(database_url):
    weekdays = Handoff(config=HandoffSettings(shifts=parse_hours("1-5 09:00-18:00")))
    saturday = datetime(2026, 12, 5, 3, 0, tzinfo=timezone.utc)  # 11:00 in Shanghai
    s = sender()
    q = weekdays.request(s, "request_human", at=saturday)
    assert not q.staffed and q.state == "bot"
    weekdays.request(s, "request_human", at=saturday)
    assert [t["conversation"] for t in weekdays.callbacks()].count(q.conversation_id) == 1
    monday = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)
    assert weekdays.config.staffed(monday) and not weekdays.config.staffed(saturday)
    assert weekdays.config.hours_text() == "周一至周五 9:00–18:00"


def test_one_agent_holds_a_conversation(handoff, agents):
    a, b = agents(), agents()
    q = handoff.request(sender(), "request_human")
    conv, previous = handoff.claim(q.conversation_id, a)
    assert previous == "waiting" and conv.state == "agent" and conv.agent == a.name
    with pytest.raises(HandoffError) as exc:
        handoff.claim(q.conversation_id, b)
    assert exc.value.code == "conflict" and exc.value.extra["held_by"] == a.name
    with pytest.raises(HandoffError):
        handoff.add_agent_message(q.conversation_id, b, "我来", "queued")
    with pytest.raises(HandoffError):
        handoff.release(q.conversation_id, b)
    assert handoff.claim(q.conversation_id, a)[1] == "agent"  # claiming again is harmless
    assert q.conversation_id in [c.id for c in handoff.conversations("mine", a.account_id)]
    assert q.conversation_id not in [c.id for c in handoff.conversations("mine", b.account_id)]
    moved = handoff.transfer(q.conversation_id, a, b.account_id, b.name)
    assert moved.agent == b.name
    with pytest.raises(HandoffError):
        handoff.add_agent_message(q.conversation_id, a, "还是我", "queued")
    actions = [e.action for e in AuditLog().query(conversation=q.conversation_id)[0]]
    assert {"agent.takeover", "agent.transfer"} <= set(actions)
    denied = [e for e in AuditLog().query(conversation=q.conversation_id)[0]
              if e.action == "agent.takeover" and e.outcome == "denied"]
    assert [e.actor for e in denied] == [b.name]


def test_a_gone_browser_returns_the_conversation_to_the_queue(handoff, agents):
    a, b = agents(), agents()
    q = handoff.request(sender(), "request_human")
    handoff.claim(q.conversation_id, a)
    assert q.conversation_id not in [c.id for c in handoff.expire_stale()]
    later = datetime.now(timezone.utc) + timedelta(seconds=ALWAYS.agent_timeout + 5)
    back = [c.id for c in handoff.expire_stale(later)]
    assert q.conversation_id in back
    assert handoff.get(q.conversation_id).state == "waiting"
    assert handoff.claim(q.conversation_id, b)[0].agent == b.name


def test_heartbeat_keeps_it_and_a_stale_holder_can_be_replaced(handoff, agents):
    a, b = agents(), agents()
    q = handoff.request(sender(), "request_human")
    handoff.claim(q.conversation_id, a)
    assert handoff.heartbeat(a.account_id) >= 1
    stale = Handoff(config=HandoffSettings(shifts=None, agent_timeout=0))
    assert stale.claim(q.conversation_id, b)[0].agent == b.name  # a's console is gone


def test_agent_messages_are_handed_over_once(handoff, agents):
    a = agents()
    s = sender()
    q = handoff.request(s, "request_human")
    handoff.claim(q.conversation_id, a)
    m, _ = handoff.add_agent_message(q.conversation_id, a, "您好，请问要办什么？", "queued")
    with pytest.raises(HandoffError):
        handoff.add_agent_message(q.conversation_id, a, "   ", "queued")
    got = handoff.take_pending(s)
    assert [x.id for x in got] == [m.id] and got[0].raw == "您好，请问要办什么？"
    assert handoff.take_pending(s) == []
    assert handoff.messages(q.conversation_id)[-1].status == "delivered"


def test_paused_citizen_messages_feed_the_console_masked(handoff, agents):
    s = sender()
    assert handoff.record_citizen(s, [("没有转人工的人", 1.0)]) == 0  # no handoff: nothing
    q = handoff.request(s, "request_human")
    _, _, last_id, last_update = handoff.feed(-1, None)
    assert handoff.record_citizen(s, [("我的电话是13812345678", 1.0)]) == 1
    msgs, convs, _, _ = handoff.feed(last_id, last_update)
    mine = [m for m in msgs if m.conversation_id == q.conversation_id]
    assert [m.text for m in mine] == ["我的电话是138****5678"]
    assert q.conversation_id in [c.id for c in convs]


def test_notes_and_work_orders(handoff, agents):
    a = agents()
    q = handoff.request(sender(), "request_human")
    note = handoff.add_note(q.conversation_id, a, "市民情绪较急，身份证440106199203151025")
    assert "1025" in note["text"] and "199203" not in note["text"]
    with pytest.raises(HandoffError):
        handoff.create_work_order(q.conversation_id, a, "nope", "gd_health", "x")
    order = handoff.create_work_order(q.conversation_id, a, "consult", "gd_health", "咨询出生医学证明")
    assert order["number"].startswith("GD12345-") and order["category_name"] == "咨询"
    assert handoff.work_orders(q.conversation_id)[0]["number"] == order["number"]
    with pytest.raises(HandoffError):
        handoff.create_work_order(q.conversation_id, a, "consult", "gd_health", "x",
                                  deadline=datetime(2000, 1, 1, tzinfo=timezone.utc))


def test_hours_spec():
    assert parse_hours("24x7") is None
    shifts = parse_hours("1-5 09:00-18:00; 6 09:00-12:00")
    assert len(shifts) == 2 and shifts[1].days == frozenset({6})
    with pytest.raises(ValueError):
        parse_hours("weekdays 9-6")
