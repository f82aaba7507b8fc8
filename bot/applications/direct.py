"""Applications without a conversation: the mini-program's form pages and any
other API client fill the same draft the chat fills, with the same rules.

Item choice goes through `choice.apply_rules` (mandatory items, parallel
groups, prerequisites), every answer through `validation.check` (same Chinese
messages), pre-fill through the shared-data service only with the citizen's
consent and for the identity they verified (bot.identity), and submission
through `Applications.submit`, which is idempotent per draft: the draft id is
the idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from bot.applications import render
from bot.applications.choice import ItemChoice, apply_rules
from bot.applications.formspec import FieldSpec, FormSpec
from bot.applications.service import (
    ApplicationError,
    Applications,
    ApplicationView,
    DraftView,
    NotFound,
)
from bot.applications.shared_data import FOUND, NONE, SharedData
from bot.applications.validation import Checked, check

RETRY_WINDOW_S = 600
MAX_VALUE_CHARS = 500


class OtherDraftOpen(ApplicationError):
    """The citizen has an unfinished application for another bundle."""

    def __init__(self, open_draft: DraftView, message: str):
        super().__init__(message)
        self.draft = open_draft


class UnknownItems(ApplicationError):
    def __init__(self, keys: list[str]):
        super().__init__("没有这些事项：" + "、".join(keys))
        self.keys = keys


@dataclass(frozen=True)
class FieldError:
    field: str
    label: str
    message: str


@dataclass
class Filled:
    """The draft after a fill, with what happened on the way."""

    draft: DraftView
    choice: ItemChoice | None = None
    errors: list[FieldError] = field(default_factory=list)
    prefilled: list[str] = field(default_factory=list)  # field ids filled from shared data now
    form: FormSpec | None = None
    prefill: str | None = None  # the shared-data look-up: found | none | unverified | mismatch | limited

    @property
    def missing(self) -> list[FieldSpec]:
        return [f for f in self.form.fields_for(self.draft.items) if f.id not in self.draft.values]


class DirectApplications:
    def __init__(self, apps: Applications | None = None, shared: SharedData | None = None,
                 today: date | None = None):
        self.apps = apps or Applications()
        self.shared = shared or SharedData()
        self._today = today

    @property
    def today(self) -> date:
        return self._today or date.today()

    def draft(self, sender: str, draft_id: int) -> DraftView:
        """The sender's open draft `draft_id`; NotFound for anyone else's."""
        d = self.apps.open_draft(sender)
        if d is None or d.id != draft_id:
            raise NotFound(f"no open draft {draft_id}")
        return d

    def open(self, sender: str, bundle_id: str) -> DraftView:
        """The sender's open draft for `bundle_id` (shared with the chat), or a new one."""
        existing = self.apps.open_draft(sender)
        if existing and existing.bundle_id != bundle_id:
            other = self.apps.kb.bundle(existing.bundle_id).name
            raise OtherDraftOpen(existing, render.other_draft_open(other, self.apps.kb.bundle(bundle_id).name))
        return self.apps.start(sender, bundle_id)

    def choose(self, draft: DraftView, requested: list[str] | None) -> ItemChoice:
        """All items (None/empty) or some, with the bundle's rules applied."""
        bundle = self.apps.kb.bundle(draft.bundle_id)
        keys = [it.key for it in bundle.items]
        if requested:
            unknown = [k for k in requested if k not in keys]
            if unknown:
                raise UnknownItems(unknown)
        choice = apply_rules(bundle, list(requested or keys))
        draft.items = choice.keys
        return choice

    def fill(self, draft: DraftView, answers: dict[str, object], consent: bool | None = None,
             items: list[str] | None = None) -> Filled:
        """Apply items, answers and pre-fill consent to `draft` and save it.

        `items`: None keeps the draft's choice (all items for a new draft), a
        list chooses again (empty: all). Valid answers are kept even when
        others fail, so a citizen fixes only what is wrong. Answers the
        citizen typed win over shared data.
        """
        form = self.apps.form(draft.bundle_id)
        out = Filled(draft, form=form)
        if items is not None or not draft.items:
            out.choice = self.choose(draft, items)
        specs = {f.id: f for f in form.fields}
        needed = {f.id for f in form.fields_for(draft.items)}
        for fid in answers:
            if fid not in specs:
                out.errors.append(FieldError(fid, fid, "申请表里没有这一项。"))
            elif fid not in needed:
                out.errors.append(FieldError(fid, specs[fid].label, "所选事项不需要填写这一项。"))
        for spec in form.fields:  # form order: an id number before the dates it bounds
            if spec.id not in answers or spec.id not in needed:
                continue
            checked = self.clean(spec, answers[spec.id], draft.values)
            if not checked.ok:  # an earlier good answer stays, as in the chat
                out.errors.append(FieldError(spec.id, spec.label, checked.error))
                continue
            draft.values[spec.id] = checked.value
            if spec.id in draft.prefilled:
                draft.prefilled.remove(spec.id)
        if consent is not None:
            draft.consent = consent
        if consent and draft.values.get("applicant_id_number"):
            out.prefill, out.prefilled = self._prefill(draft, form, answers)
        draft.stage, draft.pending = self._stage(draft, form)
        out.draft = self.apps.save(draft)
        return out

    def clean(self, spec: FieldSpec, raw: object, values: dict) -> Checked:
        """One answer checked exactly as the chat checks it."""
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            return Checked(error=f"{spec.label}请填写文字。")
        text = str(raw).strip()[:MAX_VALUE_CHARS + 1]
        if text == "" and spec.optional:
            return Checked("")
        return check(spec, text, values, self.today)

    def _prefill(self, draft: DraftView, form: FormSpec, answers: dict) -> tuple[str, list[str]]:
        """Shared data for the verified applicant only (SharedData checks, limits, audits)."""
        result = self.shared.lookup(draft.sender, draft.values["applicant_id_number"])
        if result.outcome not in (FOUND, NONE):
            draft.consent = False
            return result.outcome, []
        record = result.record or {}
        filled = []
        for spec in form.fields_for(draft.items):
            value = record.get(spec.prefill) if spec.prefill else None
            if not value or spec.id in draft.values or spec.id in answers:
                continue
            checked = check(spec, value, draft.values, self.today)
            if checked.ok:
                draft.values[spec.id] = checked.value
                draft.prefilled.append(spec.id)
                filled.append(spec.id)
        return result.outcome, filled

    @staticmethod
    def _stage(draft: DraftView, form: FormSpec) -> tuple[str, str | None]:
        """Where the chat would pick this draft up: the next empty field, or review."""
        if not draft.items:
            return "items", None
        for spec in form.fields_for(draft.items):
            if spec.id not in draft.values:
                return "fields", spec.id
        return "confirm", None

    def submit(self, draft_id: int) -> ApplicationView:
        """Idempotent: the same draft id always yields the same application."""
        return self.apps.submit(draft_id)

    def replayed(self, sender: str, bundle_id: str, items: list[str] | None,
                 answers: dict[str, object]) -> ApplicationView | None:
        """An application this sender submitted moments ago from the same request.

        Guards a one-shot request retried without its draft id (double tap,
        lost response): the retry gets the first application, not a second.
        """
        now = datetime.now(timezone.utc)
        for app in self.apps.applications(sender):
            at = app.submitted_at if app.submitted_at.tzinfo else app.submitted_at.replace(tzinfo=timezone.utc)
            if (now - at).total_seconds() > RETRY_WINDOW_S:
                break
            if app.bundle_id != bundle_id:
                continue
            bundle = self.apps.kb.bundle(bundle_id)
            chosen = [s.item_key for s in app.subs]
            wanted = apply_rules(bundle, list(items or [it.key for it in bundle.items])).keys
            if sorted(wanted) != sorted(chosen):
                continue
            specs = self.apps.form(bundle_id).fields_for(chosen)
            if all(self.clean(spec, answers[spec.id], app.values).value == app.values.get(spec.id)
                   for spec in specs if spec.id in answers):
                return app
        return None
