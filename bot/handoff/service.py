"""The handoff service: the only module that reads or writes the handoff tables.

A conversation's life: `bot` (the assistant answers) → `waiting` (the citizen asked
for a person, or the bot failed them: N fallbacks in a row, a 差评) → `agent` (one
agent holds it; Rasa's tracker is paused, so the bot is silent) → `bot` again when
the agent releases it. An agent whose console stops sending heartbeats loses the
conversation back to the queue (`expire_stale`); the tracker stays paused until
another agent takes it or someone releases it.

Everything is synchronous database work; the web layer runs it in a thread. The
Rasa side (pause/resume events) is backend/agent/rasa.py; delivery on the citizen's
channel is the backend's (backend/agent/delivery.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import senders
from bot.clock import aware, now
from bot.db import session_factory
from bot.handoff.config import HandoffSettings, settings
from bot.models import (
    CallbackTicket,
    HandoffConversation,
    HandoffMessage,
    HandoffNote,
    WorkOrder,
)
from bot.privacy.masking import mask_text
from bot.staff.audit import Actor, AuditLog

BOT, WAITING, AGENT = "bot", "waiting", "agent"
STATES = (BOT, WAITING, AGENT)
REASONS = ("request_human", "fallback", "rating")
CITIZEN, BOT_ROLE, AGENT_ROLE = "citizen", "bot", "agent"
SENT, QUEUED, DELIVERED, FAILED = "sent", "queued", "delivered", "failed"
MAX_TEXT = 2000
MAX_RECENT = 20


class HandoffError(Exception):
    """`code`: not_found | conflict | not_holder | bad_state | bad_request."""

    def __init__(self, code: str, message: str = "", **extra):
        super().__init__(message or code)
        self.code, self.extra = code, extra


@dataclass(frozen=True)
class Queued:
    """What the bot tells a citizen who asked for a person."""

    state: str
    ahead: int
    minutes: int
    staffed: bool
    already: bool
    conversation_id: str


@dataclass
class ConversationView:
    id: str
    sender: str
    channel: str
    state: str
    paused: bool
    reason: str | None
    agent: str | None
    agent_id: int | None
    context: dict
    last_message: str | None
    waiting_since: datetime | None
    assigned_at: datetime | None
    heartbeat_at: datetime | None
    updated_at: datetime
    callback_open: bool = False

    def citizen(self) -> str:
        return mask_sender(self.sender)

    def summary(self) -> dict:
        """The contract's conversation object (no raw sender id)."""
        return {"id": self.id, "channel": self.channel, "citizen": self.citizen(),
                "bundle": (self.context or {}).get("bundle"), "state": self.state,
                "agent": self.agent, "waiting_since": iso(self.waiting_since),
                "last_message": self.last_message, "reason": self.reason,
                "paused": self.paused, "assigned_at": iso(self.assigned_at),
                "updated_at": iso(self.updated_at), "callback": self.callback_open}


@dataclass
class MessageView:
    id: int
    conversation_id: str
    role: str
    text: str  # masked
    at: datetime
    agent: str | None = None
    status: str | None = None
    error: str | None = None
    raw: str = field(default="", repr=False)  # vaulted text, for delivery only

    def as_json(self) -> dict:
        out = {"id": self.id, "from": self.role, "text": self.text, "at": iso(self.at)}
        if self.role == AGENT_ROLE:
            out.update(agent=self.agent, status=self.status, error=self.error)
        return out


def iso(at: datetime | None) -> str | None:
    return aware(at).isoformat() if at else None


def mask_sender(sender: str) -> str:
    """How the console names a citizen: never the openid or a REST client's own id."""
    kind = senders.kind(sender)
    tail = sender[-4:]
    if kind == senders.WECHAT:
        return f"公众号用户 …{tail}"
    if kind == senders.MINIPROGRAM:
        return f"小程序用户 …{tail}"
    return f"网页用户 …{tail}" if len(sender) > 6 else "网页用户"


def display(text: str, sender: str) -> str:
    """Vault tokens of this conversation resolved, then every 身份证号 / phone masked."""
    if "⟪" in text:
        from bot.privacy.vault import Vault

        text, _ = Vault().reveal(text, sender)
    return mask_text(text)


def _new_id() -> str:
    return "hc" + secrets.token_hex(8)


def _view(row: HandoffConversation, callback: bool = False) -> ConversationView:
    last = (row.last_message or {}).get("text")
    return ConversationView(
        row.id, row.sender, row.channel, row.state, bool(row.paused), row.reason,
        row.agent_name, row.agent_id, dict(row.context or {}),
        display(last, row.sender) if last else None, aware(row.waiting_since),
        aware(row.assigned_at), aware(row.heartbeat_at), aware(row.updated_at), callback)


def _message_view(m: HandoffMessage) -> MessageView:
    raw = str((m.body or {}).get("text", ""))
    return MessageView(m.id, m.conversation_id, m.role, display(raw, m.sender), aware(m.at),
                       m.agent_name, m.status, m.error, raw)


class Handoff:
    def __init__(self, sessions: sessionmaker | None = None,
                 config: HandoffSettings | None = None, audit: AuditLog | None = None):
        self._sessions = sessions or session_factory()
        self.config = config or settings()
        self.audit = audit or AuditLog(self._sessions)

    # -- the bot's side ------------------------------------------------------------

    def state_of(self, sender: str) -> str:
        with self._sessions() as s:
            state = s.execute(select(HandoffConversation.state)
                              .where(HandoffConversation.sender == sender)).scalar()
        return state or BOT

    def paused(self, sender: str) -> bool:
        """True while the bot must stay silent for this sender (session start checks it)."""
        with self._sessions() as s:
            return bool(s.execute(select(HandoffConversation.paused)
                                  .where(HandoffConversation.sender == sender)).scalar())

    def request(self, sender: str, reason: str, context: dict | None = None,
                recent: Iterable[tuple[str, str, float]] = (), at: datetime | None = None) -> Queued:
        """The citizen goes to the waiting queue (or, outside staffed hours, gets a
        call-back ticket). `recent`: (role, vaulted text, unix time) of the last turns."""
        if reason not in REASONS:
            raise HandoffError("bad_request", f"reason {reason!r}")
        at = at or now()
        staffed = self.config.staffed(at)
        with self._sessions.begin() as s:
            row = s.execute(select(HandoffConversation)
                            .where(HandoffConversation.sender == sender)
                            .with_for_update()).scalar()
            if row is None:
                row = HandoffConversation(id=_new_id(), sender=sender,
                                          channel=senders.kind(sender), state=BOT, paused=False,
                                          updated_at=at)
                s.add(row)
                s.flush()
            already = row.state in (WAITING, AGENT)
            if context:
                row.context = {**(row.context or {}), **context}
            self._record_recent(s, row, recent)
            if not already:
                row.reason = reason
                if staffed:
                    row.state, row.waiting_since = WAITING, at
                elif not self._open_callbacks(s, [row.id]):  # one open ticket is enough
                    s.add(CallbackTicket(conversation_id=row.id, created_at=at, state="open"))
            row.updated_at = at
            ahead = 0
            if row.state == WAITING:
                ahead = s.execute(select(func.count()).select_from(HandoffConversation).where(
                    HandoffConversation.state == WAITING,
                    HandoffConversation.waiting_since < row.waiting_since)).scalar() or 0
            state, conv_id = row.state, row.id
        minutes = max(1, (ahead + 1) * self.config.minutes_per_citizen)
        return Queued(state, ahead, minutes, staffed, already, conv_id)

    def _record_recent(self, s: Session, row: HandoffConversation,
                       recent: Iterable[tuple[str, str, float]]) -> None:
        latest = s.execute(select(func.max(HandoffMessage.at))
                           .where(HandoffMessage.conversation_id == row.id)).scalar()
        latest = aware(latest)
        items = [r for r in recent if r[1]][-MAX_RECENT:]
        for role, text, ts in items:
            at = datetime.fromtimestamp(ts, tz=now().tzinfo)
            if latest is not None and at <= latest:
                continue
            s.add(HandoffMessage(conversation_id=row.id, sender=row.sender, role=role,
                                 body={"text": text[:MAX_TEXT]}, at=at))
            if role == CITIZEN:
                row.last_message = {"text": text[:200]}

    def sync(self, conversation_id: str, recent: Iterable[tuple[str, str, float]]) -> None:
        """Messages of the tracker since the handoff (taken at take-over)."""
        with self._sessions.begin() as s:
            row = s.get(HandoffConversation, conversation_id)
            if row is not None:
                self._record_recent(s, row, recent)

    def record_citizen(self, sender: str, texts: list[tuple[str, float]]) -> int:
        """A paused conversation's citizen messages (the tracker store calls this): they
        reach the console feed. Nothing happens for a sender without a handoff."""
        if not texts:
            return 0
        at = now()
        with self._sessions.begin() as s:
            row = s.execute(select(HandoffConversation)
                            .where(HandoffConversation.sender == sender)).scalar()
            if row is None:
                return 0
            for text, _ts in texts:
                s.add(HandoffMessage(conversation_id=row.id, sender=sender, role=CITIZEN,
                                     body={"text": text[:MAX_TEXT]}, at=at))
            row.last_message = {"text": texts[-1][0][:200]}
            row.updated_at = at
        return len(texts)

    # -- the console's side --------------------------------------------------------

    def conversations(self, state: str | None = None, agent_id: int | None = None,
                      limit: int = 200) -> list[ConversationView]:
        """`state` waiting | agent | bot, or "mine" (held by agent_id), or "active"
        (waiting or agent); the oldest wait first."""
        q = select(HandoffConversation)
        if state == "mine":
            q = q.where(HandoffConversation.state == AGENT, HandoffConversation.agent_id == agent_id)
        elif state == "active" or state is None:
            q = q.where(HandoffConversation.state.in_((WAITING, AGENT)))
        else:
            q = q.where(HandoffConversation.state == state)
        q = q.order_by(HandoffConversation.waiting_since.is_(None),
                       HandoffConversation.waiting_since, HandoffConversation.updated_at).limit(limit)
        with self._sessions() as s:
            rows = s.execute(q).scalars().all()
            open_ids = self._open_callbacks(s, [r.id for r in rows])
            return [_view(r, r.id in open_ids) for r in rows]

    @staticmethod
    def _open_callbacks(s: Session, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        return set(s.execute(select(CallbackTicket.conversation_id).where(
            CallbackTicket.conversation_id.in_(ids), CallbackTicket.state == "open")).scalars())

    def get(self, conversation_id: str) -> ConversationView:
        with self._sessions() as s:
            row = s.get(HandoffConversation, conversation_id)
            if row is None:
                raise HandoffError("not_found")
            return _view(row, bool(self._open_callbacks(s, [row.id])))

    def messages(self, conversation_id: str, after: int = 0, limit: int = 200) -> list[MessageView]:
        with self._sessions() as s:
            rows = s.execute(select(HandoffMessage).where(
                HandoffMessage.conversation_id == conversation_id, HandoffMessage.id > after)
                .order_by(HandoffMessage.id.desc()).limit(limit)).scalars().all()
        return [_message_view(m) for m in reversed(rows)]

    def claim(self, conversation_id: str, actor: Actor) -> tuple[ConversationView, str]:
        """The agent takes the conversation: (view, previous state). Another live agent
        holding it → conflict. One conditional UPDATE decides, so two agents clicking at
        once never both win. Audited in the same transaction."""
        at = now()
        cutoff = at - timedelta(seconds=self.config.agent_timeout)
        c = HandoffConversation
        with self._sessions.begin() as s:
            row = s.get(c, conversation_id)
            if row is None:
                raise HandoffError("not_found")
            previous, held_by_me = row.state, row.state == AGENT and row.agent_id == actor.account_id
            won = s.execute(update(c).where(
                c.id == conversation_id,
                or_(c.state != AGENT, c.agent_id.is_(None), c.agent_id == actor.account_id,
                    c.heartbeat_at.is_(None), c.heartbeat_at < cutoff))
                .values(state=AGENT, agent_id=actor.account_id, agent_name=actor.name,
                        assigned_at=row.assigned_at if held_by_me else at, heartbeat_at=at,
                        updated_at=at, waiting_since=row.waiting_since or at)
                .execution_options(synchronize_session=False)).rowcount
            if won:
                self.audit.record("agent.takeover", actor=actor, conversation=row.id,
                                  detail={"from": previous, "channel": row.channel}, session=s)
                s.refresh(row)
                return _view(row), previous
            s.refresh(row)
            held_by = row.agent_name
        # the refusal is audited too, in its own transaction
        self.audit.record("agent.takeover", actor=actor, outcome="denied",
                          conversation=conversation_id, detail={"held_by": held_by})
        raise HandoffError("conflict", held_by=held_by)

    def undo_claim(self, conversation_id: str, previous: str) -> None:
        """Rasa could not be paused: the claim does not stand."""
        with self._sessions.begin() as s:
            row = self._locked(s, conversation_id)
            row.state = previous if previous != AGENT else WAITING
            row.agent_id = row.agent_name = None
            row.updated_at = now()

    def set_paused(self, conversation_id: str, paused: bool) -> None:
        with self._sessions.begin() as s:
            s.execute(update(HandoffConversation).where(HandoffConversation.id == conversation_id)
                      .values(paused=paused, updated_at=now()))

    def release(self, conversation_id: str, actor: Actor) -> ConversationView:
        """Back to the bot (the holder, or anyone when nobody holds it)."""
        at = now()
        with self._sessions.begin() as s:
            row = self._locked(s, conversation_id)
            self._must_hold(row, actor, at)
            row.state, row.agent_id, row.agent_name = BOT, None, None
            row.waiting_since = row.assigned_at = row.heartbeat_at = None
            row.updated_at = at
            s.execute(update(CallbackTicket).where(
                CallbackTicket.conversation_id == row.id, CallbackTicket.state == "open")
                .values(state="done", done_by=actor.name, done_at=at))
            self.audit.record("agent.release", actor=actor, conversation=row.id, session=s)
            return _view(row)

    def transfer(self, conversation_id: str, actor: Actor, to_id: int, to_name: str) -> ConversationView:
        at = now()
        with self._sessions.begin() as s:
            row = self._locked(s, conversation_id)
            self._must_hold(row, actor, at, need_agent=True)
            row.agent_id, row.agent_name = to_id, to_name
            row.assigned_at = row.heartbeat_at = row.updated_at = at
            self.audit.record("agent.transfer", actor=actor, conversation=row.id,
                              target=to_name, session=s)
            return _view(row)

    def heartbeat(self, agent_id: int, conversation_ids: Iterable[str] | None = None) -> int:
        """The agent's console is alive: every conversation they hold stays theirs."""
        q = update(HandoffConversation).where(HandoffConversation.state == AGENT,
                                              HandoffConversation.agent_id == agent_id)
        if conversation_ids is not None:
            q = q.where(HandoffConversation.id.in_(list(conversation_ids)))
        with self._sessions.begin() as s:
            return s.execute(q.values(heartbeat_at=now())).rowcount or 0

    def expire_stale(self, at: datetime | None = None) -> list[ConversationView]:
        """Conversations whose agent went away go back to the waiting queue (still paused)."""
        at = at or now()
        cutoff = at - timedelta(seconds=self.config.agent_timeout)
        out = []
        with self._sessions.begin() as s:
            rows = s.execute(select(HandoffConversation).where(
                HandoffConversation.state == AGENT, HandoffConversation.heartbeat_at < cutoff)
                .with_for_update()).scalars().all()
            for row in rows:
                self.audit.record("agent.timeout", actor=Actor("system"), conversation=row.id,
                                  detail={"agent": row.agent_name}, session=s)
                row.state, row.agent_id, row.agent_name = WAITING, None, None
                row.updated_at = at
                out.append(_view(row))
        return out

    def _stale(self, row: HandoffConversation, at: datetime) -> bool:
        beat = aware(row.heartbeat_at)
        return beat is None or at - beat > timedelta(seconds=self.config.agent_timeout)

    def _locked(self, s: Session, conversation_id: str) -> HandoffConversation:
        row = s.execute(select(HandoffConversation).where(HandoffConversation.id == conversation_id)
                        .with_for_update()).scalar()
        if row is None:
            raise HandoffError("not_found")
        return row

    def _must_hold(self, row: HandoffConversation, actor: Actor, at: datetime,
                   need_agent: bool = False) -> None:
        if row.state == AGENT and row.agent_id != actor.account_id and not self._stale(row, at):
            raise HandoffError("not_holder", held_by=row.agent_name)
        if need_agent and (row.state != AGENT or row.agent_id != actor.account_id):
            raise HandoffError("not_holder", held_by=row.agent_name)

    # -- agent messages --------------------------------------------------------------

    def add_agent_message(self, conversation_id: str, actor: Actor, text: str,
                          status: str) -> tuple[MessageView, ConversationView]:
        """Only the holder writes; the text is stored before delivery is tried."""
        text = text.strip()
        if not text or len(text) > MAX_TEXT:
            raise HandoffError("bad_request", f"text: 1–{MAX_TEXT} characters")
        at = now()
        with self._sessions.begin() as s:
            row = self._locked(s, conversation_id)
            if row.state != AGENT or row.agent_id != actor.account_id:
                raise HandoffError("not_holder", held_by=row.agent_name)
            m = HandoffMessage(conversation_id=row.id, sender=row.sender, role=AGENT_ROLE,
                               body={"text": text}, at=at, agent_name=actor.name, status=status)
            s.add(m)
            row.heartbeat_at = row.updated_at = at
            s.flush()
            self.audit.record("agent.message", actor=actor, conversation=row.id,
                              detail={"message": m.id, "channel": row.channel,
                                      "chars": len(text)}, session=s)
            return _message_view(m), _view(row)

    def system_message(self, conversation_id: str, text: str, status: str) -> MessageView:
        """What the bot says to the citizen about the handoff (taken over, released)."""
        with self._sessions.begin() as s:
            row = self._locked(s, conversation_id)
            m = HandoffMessage(conversation_id=row.id, sender=row.sender, role=BOT_ROLE,
                               body={"text": text}, at=now(), status=status)
            s.add(m)
            s.flush()
            return _message_view(m)

    def set_status(self, message_id: int, status: str, error: str | None = None) -> None:
        with self._sessions.begin() as s:
            values: dict = {"status": status, "error": (error or None) and error[:200]}
            if status in (SENT, DELIVERED):
                values["delivered_at"] = now()
            s.execute(update(HandoffMessage).where(HandoffMessage.id == message_id).values(**values))

    def sent_since(self, sender: str, since: datetime) -> int:
        """Messages we sent this WeChat follower since `since` (the 5-message allowance)."""
        with self._sessions() as s:
            return s.execute(select(func.count()).select_from(HandoffMessage).where(
                HandoffMessage.sender == sender, HandoffMessage.status == SENT,
                HandoffMessage.at > since)).scalar() or 0

    def take_pending(self, sender: str, after: int = 0) -> list[MessageView]:
        """Queued messages for a mini-program or REST citizen, marked delivered as they
        are handed over (each is handed over once). The REST channel asks on every turn,
        so the usual answer (nothing) costs one indexed read and no write transaction."""
        with self._sessions() as s:
            if s.execute(select(HandoffMessage.id).where(
                    HandoffMessage.sender == sender, HandoffMessage.status == QUEUED,
                    HandoffMessage.id > after).limit(1)).first() is None:
                return []
        with self._sessions.begin() as s:
            rows = s.execute(select(HandoffMessage).where(
                HandoffMessage.sender == sender, HandoffMessage.status == QUEUED,
                HandoffMessage.id > after).order_by(HandoffMessage.id)
                .with_for_update()).scalars().all()
            at = now()
            for m in rows:
                m.status, m.delivered_at = DELIVERED, at
            return [_message_view(m) for m in rows]

    def has_pending(self, sender: str) -> bool:
        with self._sessions() as s:
            return s.execute(select(HandoffMessage.id).where(
                HandoffMessage.sender == sender, HandoffMessage.status == QUEUED).limit(1)
            ).first() is not None

    # -- the live feed -----------------------------------------------------------------

    def feed(self, after_message: int, after_update: datetime | None,
             limit: int = 500) -> tuple[list[MessageView], list[ConversationView], int, datetime | None]:
        """New messages (id > after_message) and changed conversations (updated after
        `after_update`), for the console's event stream: (messages, conversations,
        last message id, last update)."""
        with self._sessions() as s:
            if after_message < 0:  # first poll: start from now
                after_message = s.execute(select(func.max(HandoffMessage.id))).scalar() or 0
                return [], [], after_message, now()
            msgs = s.execute(select(HandoffMessage).where(HandoffMessage.id > after_message)
                             .order_by(HandoffMessage.id).limit(limit)).scalars().all()
            convs = []
            if after_update is not None:
                convs = s.execute(select(HandoffConversation).where(
                    HandoffConversation.updated_at > after_update)
                    .order_by(HandoffConversation.updated_at).limit(limit)).scalars().all()
            last_id = msgs[-1].id if msgs else after_message
            last_update = max([aware(c.updated_at) for c in convs] + [after_update]) \
                if convs else after_update
            return ([_message_view(m) for m in msgs], [_view(c) for c in convs], last_id,
                    last_update)

    # -- notes, work orders, call-backs -------------------------------------------------

    def add_note(self, conversation_id: str, actor: Actor, text: str) -> dict:
        text = text.strip()
        if not text or len(text) > MAX_TEXT:
            raise HandoffError("bad_request", f"text: 1–{MAX_TEXT} characters")
        with self._sessions.begin() as s:
            self._locked(s, conversation_id)
            note = HandoffNote(conversation_id=conversation_id, author=actor.name,
                               body={"text": text}, at=now())
            s.add(note)
            s.flush()
            self.audit.record("agent.note", actor=actor, conversation=conversation_id,
                              detail={"note": note.id}, session=s)
            return _note(note)

    def notes(self, conversation_id: str) -> list[dict]:
        with self._sessions() as s:
            rows = s.execute(select(HandoffNote).where(HandoffNote.conversation_id == conversation_id)
                             .order_by(HandoffNote.id)).scalars().all()
            return [_note(n) for n in rows]

    def create_work_order(self, conversation_id: str, actor: Actor, category: str,
                          department_id: str, summary: str,
                          deadline: datetime | None = None) -> dict:
        if category not in self.config.categories:
            raise HandoffError("bad_request", "category", allowed=sorted(self.config.categories))
        summary = (summary or "").strip()
        if not summary or len(summary) > MAX_TEXT:
            raise HandoffError("bad_request", f"summary: 1–{MAX_TEXT} characters")
        at = now()
        deadline = aware(deadline) if deadline else at + timedelta(days=self.config.work_order_days)
        if deadline <= at:
            raise HandoffError("bad_request", "deadline must be in the future")
        with self._sessions.begin() as s:
            self._locked(s, conversation_id)
            day = at.strftime("%Y%m%d")
            count = s.execute(select(func.count()).select_from(WorkOrder)
                              .where(WorkOrder.number.like(f"GD12345-{day}-%"))).scalar() or 0
            order = WorkOrder(number=f"GD12345-{day}-{count + 1:05d}", conversation_id=conversation_id,
                              category=category, department_id=department_id, deadline=deadline,
                              body={"summary": summary}, created_by=actor.name, created_at=at,
                              status="open")
            s.add(order)
            s.flush()
            self.audit.record("agent.work_order", actor=actor, conversation=conversation_id,
                              target=order.number,
                              detail={"category": category, "department": department_id}, session=s)
            return _order(order, self.config)

    def work_orders(self, conversation_id: str) -> list[dict]:
        with self._sessions() as s:
            rows = s.execute(select(WorkOrder).where(WorkOrder.conversation_id == conversation_id)
                             .order_by(WorkOrder.id)).scalars().all()
            return [_order(o, self.config) for o in rows]

    def callbacks(self, state: str = "open") -> list[dict]:
        with self._sessions() as s:
            rows = s.execute(select(CallbackTicket, HandoffConversation).join(
                HandoffConversation, CallbackTicket.conversation_id == HandoffConversation.id)
                .where(CallbackTicket.state == state).order_by(CallbackTicket.id)).all()
            return [{"id": t.id, "conversation": c.id, "channel": c.channel,
                     "citizen": mask_sender(c.sender), "bundle": (c.context or {}).get("bundle"),
                     "created_at": iso(t.created_at), "state": t.state} for t, c in rows]


def _note(n: HandoffNote) -> dict:
    return {"id": n.id, "author": n.author, "text": mask_text(str(n.body.get("text", ""))),
            "at": iso(n.at)}


def _order(o: WorkOrder, config: HandoffSettings) -> dict:
    return {"number": o.number, "category": o.category,
            "category_name": config.categories.get(o.category, o.category),
            "department": o.department_id, "deadline": iso(o.deadline),
            "summary": mask_text(str(o.body.get("summary", ""))), "created_by": o.created_by,
            "created_at": iso(o.created_at), "status": o.status}
