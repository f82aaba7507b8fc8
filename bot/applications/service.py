"""Application service: drafts, idempotent submission, tracking and department
updates. The Rasa actions and the backend APIs call these same functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.applications import lifecycle, outbox
from bot.applications.formspec import FormSpec, load_forms
from bot.db import session_factory
from bot.kb.service import KnowledgeService
from bot.models import (
    Application,
    ApplicationEvent,
    DayCounter,
    Draft,
    SubApplication,
)
from bot.privacy.crypto import blind_index


class ApplicationError(Exception):
    """A request the service refuses, with a message fit for the caller."""


class NotFound(ApplicationError):
    pass


class Forbidden(ApplicationError):
    pass


class IncompleteForm(ApplicationError):
    def __init__(self, missing: list[str]):
        super().__init__("还没填完：" + "、".join(missing))
        self.missing = missing


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class DraftView:
    id: int
    sender: str
    bundle_id: str
    status: str
    stage: str
    items: list[str]
    values: dict[str, str]
    prefilled: list[str]
    pending: str | None
    consent: bool | None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class EventView:
    at: datetime
    item: str | None
    from_state: str | None
    to_state: str
    actor: str
    detail: str | None


@dataclass(frozen=True)
class SubView:
    id: int
    item_key: str
    item_name: str
    department_id: str
    state: str
    note: str | None


@dataclass
class ApplicationView:
    number: str
    sender: str
    bundle_id: str
    status: str
    submitted_at: datetime
    values: dict[str, str]
    subs: list[SubView]
    history: list[EventView] = field(default_factory=list)


def _draft_view(d: Draft) -> DraftView:
    return DraftView(d.id, d.sender, d.bundle_id, d.status, d.stage, list(d.items or []),
                     dict(d.values or {}), list(d.prefilled or []), d.pending, d.consent, d.updated_at)


def _app_view(a: Application, history: list[ApplicationEvent] | None = None) -> ApplicationView:
    names = {s.id: s.item_name for s in a.subs}
    return ApplicationView(
        a.number, a.sender, a.bundle_id, a.status, a.submitted_at, dict(a.values),
        [SubView(s.id, s.item_key, s.item_name, s.department_id, s.state, s.note) for s in a.subs],
        [EventView(e.at, names.get(e.sub_application_id), e.from_state, e.to_state, e.actor, e.detail)
         for e in history or []],
    )


class Applications:
    def __init__(self, kb: KnowledgeService | None = None, sessions: sessionmaker | None = None,
                 forms: dict[str, FormSpec] | None = None):
        self.kb = kb or KnowledgeService()
        self._sessions = sessions or session_factory()
        self._forms = forms
        self._loaded: tuple[object, dict[str, FormSpec]] | None = None

    @property
    def forms(self) -> dict[str, FormSpec]:
        """Read and validated once per knowledge-base content (bot.kb.cache_clear)."""
        if self._forms is not None:
            return self._forms
        key = self.kb.cache_key
        loaded = self._loaded
        if loaded is None or loaded[0] != key:
            loaded = (key, load_forms({b.id: {it.key for it in b.items} for b in self.kb.bundles()}))
            self._loaded = loaded
        return loaded[1]

    def form(self, bundle_id: str) -> FormSpec:
        self.kb.bundle(bundle_id)  # UnknownBundle for ids the knowledge base lacks
        try:
            return self.forms[bundle_id]
        except KeyError:
            raise NotFound(f"{bundle_id} has no application form yet") from None

    # -- drafts -----------------------------------------------------------
    def open_draft(self, sender: str) -> DraftView | None:
        with self._sessions() as session:
            d = session.execute(
                select(Draft).where(Draft.sender == sender, Draft.status == "open")
                .order_by(Draft.id.desc()).limit(1)
            ).scalar_one_or_none()
            return _draft_view(d) if d else None

    def start(self, sender: str, bundle_id: str) -> DraftView:
        """The sender's open draft for this bundle, or a new one."""
        self.form(bundle_id)
        existing = self.open_draft(sender)
        if existing and existing.bundle_id == bundle_id:
            return existing
        if existing:
            raise ApplicationError(f"open draft for {existing.bundle_id}")
        now = _now()
        with self._sessions.begin() as session:
            d = Draft(sender=sender, bundle_id=bundle_id, status="open", stage="items", items=[],
                      values={}, prefilled=[], created_at=now, updated_at=now)
            session.add(d)
            session.flush()
            return _draft_view(d)

    def save(self, draft: DraftView) -> DraftView:
        with self._sessions.begin() as session:
            d = session.get(Draft, draft.id)
            if d is None or d.status != "open":
                raise NotFound("this application form is no longer open")
            d.stage, d.items, d.values = draft.stage, list(draft.items), dict(draft.values)
            d.prefilled, d.pending, d.consent = list(draft.prefilled), draft.pending, draft.consent
            d.updated_at = _now()
            return _draft_view(d)

    def cancel(self, draft_id: int) -> None:
        """Cancel an open draft and wipe what was filled in."""
        with self._sessions.begin() as session:
            d = session.get(Draft, draft_id)
            if d is not None and d.status == "open":
                d.status, d.values, d.updated_at = "cancelled", {}, _now()

    def missing_fields(self, draft: DraftView) -> list[str]:
        form = self.form(draft.bundle_id)
        return [f.label for f in form.fields_for(draft.items) if f.id not in draft.values]

    # -- submission -------------------------------------------------------
    def submit(self, draft_id: int) -> ApplicationView:
        """Submit a complete draft: one application, one sub-application per item.

        Idempotent: a second call (double tap, retry, a concurrent request)
        returns the application the first one created.
        """
        try:
            with self._sessions.begin() as session:
                return self._submit(session, draft_id)
        except IntegrityError:  # a concurrent submit of the same draft won
            existing = self.application_for_draft(draft_id)
            if existing is None:
                raise
            return existing

    def _submit(self, session: Session, draft_id: int) -> ApplicationView:
        d = session.execute(select(Draft).where(Draft.id == draft_id).with_for_update()).scalar_one_or_none()
        if d is None:
            raise NotFound(f"no draft {draft_id}")
        done = session.execute(select(Application).where(Application.draft_id == draft_id)
                               .options(selectinload(Application.subs))).scalar_one_or_none()
        if done is not None:
            return _app_view(done)
        if d.status != "open":
            raise ApplicationError("this application form was cancelled")
        view = _draft_view(d)
        if not view.items:
            raise IncompleteForm(["办理事项"])
        missing = self.missing_fields(view)
        if missing:
            raise IncompleteForm(missing)
        bundle = self.kb.bundle(d.bundle_id)
        now = _now()
        app = Application(
            number=self._next_number(session, now), draft_id=d.id, sender=d.sender,
            bundle_id=d.bundle_id, values=dict(d.values), status="submitted",
            applicant_index=blind_index(d.values.get("applicant_id_number", "")),
            submitted_at=now, updated_at=now,
        )
        session.add(app)
        session.flush()
        for pos, key in enumerate(d.items):
            item = bundle.item(key)
            app.subs.append(SubApplication(position=pos, item_key=key, item_name=item.name,
                                           department_id=item.department.id, state="submitted",
                                           updated_at=now))
        session.flush()
        for sub in app.subs:
            session.add(ApplicationEvent(application_id=app.id, sub_application_id=sub.id,
                                         from_state=None, to_state="submitted", actor="citizen", at=now))
        d.status, d.updated_at = "submitted", now
        outbox.enqueue(session, d.sender, "submitted",
                       f"您的“{bundle.name}”申请已提交，编号 {app.number}，共{len(app.subs)}个事项。",
                       number=app.number)
        session.flush()
        return _app_view(app)

    @staticmethod
    def _next_number(session: Session, now: datetime) -> str:
        day = now.astimezone().strftime("%Y%m%d")
        bumped = session.execute(update(DayCounter).where(DayCounter.day == day)
                                 .values(last=DayCounter.last + 1))
        if bumped.rowcount == 0:
            session.add(DayCounter(day=day, last=1))
            session.flush()
        last = session.execute(select(DayCounter.last).where(DayCounter.day == day)).scalar_one()
        return f"YJS-{day}-{last:06d}"

    # -- tracking ---------------------------------------------------------
    def application_for_draft(self, draft_id: int) -> ApplicationView | None:
        with self._sessions() as session:
            a = session.execute(select(Application).where(Application.draft_id == draft_id)
                                .options(selectinload(Application.subs))).scalar_one_or_none()
            return _app_view(a) if a else None

    def applications(self, sender: str) -> list[ApplicationView]:
        with self._sessions() as session:
            rows = session.execute(
                select(Application).where(Application.sender == sender)
                .order_by(Application.id.desc()).options(selectinload(Application.subs))
            ).scalars().all()
            return [_app_view(a) for a in rows]

    def application(self, number: str, sender: str | None = None) -> ApplicationView:
        """One application with its history; `sender` limits it to its owner."""
        with self._sessions() as session:
            a = session.execute(select(Application).where(Application.number == number.upper())
                                .options(selectinload(Application.subs))).scalar_one_or_none()
            if a is None or (sender is not None and a.sender != sender):
                raise NotFound(f"no application {number}")
            history = session.execute(select(ApplicationEvent)
                                      .where(ApplicationEvent.application_id == a.id)
                                      .order_by(ApplicationEvent.id)).scalars().all()
            return _app_view(a, list(history))

    # -- department updates -----------------------------------------------
    def transition(self, department_id: str, sub_id: int, target: str, note: str | None = None,
                   actor: str | None = None) -> tuple[str, SubView]:
        """A department moves one of its sub-applications to `target`: (number, sub)."""
        with self._sessions.begin() as session:
            sub = session.execute(select(SubApplication).where(SubApplication.id == sub_id)
                                  .with_for_update()).scalar_one_or_none()
            if sub is None:
                raise NotFound(f"no sub-application {sub_id}")
            if sub.department_id != department_id:
                raise Forbidden(f"sub-application {sub_id} belongs to another department")
            lifecycle.check_transition(sub.state, target, note)
            now = _now()
            app = sub.application
            session.add(ApplicationEvent(application_id=app.id, sub_application_id=sub.id,
                                         from_state=sub.state, to_state=target,
                                         actor=actor or department_id, detail=note, at=now))
            sub.state, sub.note, sub.updated_at = target, note, now
            session.flush()
            states = {s.state for s in app.subs}
            status = "completed" if states <= lifecycle.TERMINAL else "in_progress"
            outbox.enqueue(session, app.sender, "state_changed",
                           lifecycle.notification_text(app.number, sub.item_name, target, note),
                           number=app.number, item=sub.item_key, state=target)
            if status != app.status:
                app.status, app.updated_at = status, now
                if status == "completed":
                    app.completed_at = now
                    outbox.enqueue(session, app.sender, "rate_invite",
                                   f"您的申请 {app.number} 已全部办结。欢迎为本次服务打分："
                                   "回复“非常满意”“满意”“基本满意”“不满意”或“非常不满意”。",
                                   number=app.number)
            return app.number, SubView(sub.id, sub.item_key, sub.item_name, sub.department_id,
                                       sub.state, sub.note)

    def department_queue(self, department_id: str, state: str | None = None) -> list[tuple[str, SubView]]:
        with self._sessions() as session:
            q = (select(SubApplication, Application.number)
                 .join(Application, SubApplication.application_id == Application.id)
                 .where(SubApplication.department_id == department_id)
                 .order_by(SubApplication.id))
            if state:
                q = q.where(SubApplication.state == state)
            return [(number, SubView(s.id, s.item_key, s.item_name, s.department_id, s.state, s.note))
                    for s, number in session.execute(q).all()]
