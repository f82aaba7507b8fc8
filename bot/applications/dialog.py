"""The application conversation: choose items, consent to pre-fill, fill the
merged form one field at a time, review, edit, cancel, submit.

State lives in the draft (database), not in Rasa, so a citizen can leave and
come back days later, and a server restart loses nothing. Rasa's form only
routes the citizen's replies here (see actions/application.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from bot import messages
from bot.applications import render
from bot.applications.choice import apply_rules, parse_choice
from bot.applications.formspec import FieldSpec, FormSpec
from bot.applications.service import Applications, DraftView, IncompleteForm
from bot.applications.shared_data import LIMITED, MISMATCH, UNVERIFIED, SharedData
from bot.applications.validation import check
from bot.kb.situations import Decision
from bot.privacy.vault import Vault

YES_RE = re.compile(r"^(好|是|对|行|可以|确认|同意|没问题|冇问题|无问题|ok|嗯|要|提交|得|啱|係|系|y)", re.I)
NO_RE = re.compile(r"^(不|否|唔|不用|不要|算了|no|n$)", re.I)
CANCEL_RE = re.compile(r"(取消申请|取消办理|不办了|不申请了|唔办了|唔搞了|不弄了|放弃申请|撤销申请|^取消$)")
EDIT_VERB = r"(?:改成|改为|改做|改作|换成|應該是|应该是|更正为|更改为|修改为|要改成|改)"
CONFIRM_RE = re.compile(r"(确认|提交|確認|没问题|冇问题|对的|是的|好的|ok)", re.I)
HOLD_RE = re.compile(r"等|别|先不|不|唔|改|吗|？|\?")
REOPEN_RE = re.compile(r"(改一下|改下|要改|修改|更改|填错|写错|寫錯|有误|不对)")
VERIFIED_RE = re.compile(r"(核验|核驗|验证|驗證|认证|好了|搞掂|完成|做完|ok)", re.I)


STRICT_TYPES = frozenset({"choice", "id_number", "phone", "date", "code", "number", "name"})


@dataclass
class Message:
    text: str
    buttons: list[dict] = field(default_factory=list)


@dataclass
class Turn:
    messages: list[Message] = field(default_factory=list)
    finished: bool = False  # the form is over: submitted, cancelled or gone

    def say(self, text: str, buttons: list[dict] | None = None) -> Turn:
        self.messages.append(Message(text, buttons or []))
        return self


def _yes(text: str, intent: str | None) -> bool:
    return intent == "affirm" or bool(YES_RE.match(text.strip()))


def _confirmed(text: str, intent: str | None) -> bool:
    """An explicit go-ahead to submit: "确认提交", not "嗯…等等"."""
    if HOLD_RE.search(text):
        return False
    return bool(CONFIRM_RE.search(text)) or (intent == "affirm" and bool(YES_RE.match(text.strip())))


def _no(text: str, intent: str | None) -> bool:
    return intent == "deny" or bool(NO_RE.match(text.strip()))


class ApplicationDialog:
    def __init__(self, apps: Applications | None = None, shared: SharedData | None = None,
                 vault: Vault | None = None, today: date | None = None):
        self.apps = apps or Applications()
        self.shared = shared or SharedData()
        self.vault = vault or Vault()
        self._today = today

    @property
    def today(self) -> date:
        return self._today or date.today()

    # -- entry points -----------------------------------------------------
    def begin(self, sender: str, bundle_id: str, decision: Decision | None = None,
              chosen: list[str] | None = None) -> Turn:
        """Start an application for `bundle_id`, or resume the open one.

        `decision`: the citizen's situation (only its items are offered);
        `chosen`: items already chosen in plain words ("先办1和3")."""
        existing = self.apps.open_draft(sender)
        bundle = self.apps.kb.bundle(bundle_id)
        if existing and existing.bundle_id != bundle_id:
            other = self.apps.kb.bundle(existing.bundle_id).name
            return Turn().say(render.other_draft_open(other, bundle.name))
        draft = self.apps.start(sender, bundle_id)
        form = self.apps.form(bundle_id)
        untouched = draft.stage == "items" and not draft.values  # opened while the guide asked
        if existing and not untouched:
            total = len(form.fields_for(draft.items)) if draft.items else 0
            return Turn().say(render.resumed(bundle.name, len(draft.values), total))
        turn = Turn().say(render.started(bundle.name, form.intro))
        if chosen:
            self._choose(draft, form, bundle, chosen, decision, turn)
            self.apps.save(draft)
        return turn

    def prompt(self, sender: str, decision: Decision | None = None) -> Message | None:
        draft = self.apps.open_draft(sender)
        if draft is None:
            return None
        bundle = self.apps.kb.bundle(draft.bundle_id)
        form = self.apps.form(draft.bundle_id)
        if draft.stage == "items":
            return Message(*render.item_question(bundle, decision.items if decision else None))
        if draft.stage == "consent":
            return Message(messages.text("prefill", "consent_question"),
                           [{"title": "好的", "payload": "好的"}, {"title": "不用", "payload": "不用"}])
        if draft.stage == "verify":
            url = self.shared.identities.pending_url(sender) or ""
            return Message(messages.text("prefill", "verify", url=url),
                           [{"title": "已核验", "payload": "已核验"}, {"title": "不用", "payload": "不用"}])
        if draft.stage == "fields" and draft.pending:
            fields = form.fields_for(draft.items)
            spec = form.field(draft.pending)
            done = sum(1 for f in fields if f.id in draft.values)
            return Message(*render.field_question(spec, done + 1, len(fields)))
        materials = self.apps.kb.materials(bundle.id, draft.items, decision)
        return Message(*render.summary(bundle, form, draft, materials))

    def offered(self, sender: str, decision: Decision | None = None) -> list[str] | None:
        """The item keys as numbered in the item question, while it is asked."""
        draft = self.apps.open_draft(sender)
        if draft is None or draft.stage != "items":
            return None
        return list(decision.items) if decision else [it.key for it in self.apps.kb.bundle(draft.bundle_id).items]

    def accepts(self, sender: str, text: str) -> bool:
        """Whether `text` is a valid reply to the question asked, whatever the NLU
        thought it was ("视力残疾" may look like a question about a bundle).

        Only replies whose value can be checked strictly count; free text
        never overrides the NLU, so "要带什么材料？" is not taken for an address.
        """
        draft = self.apps.open_draft(sender)
        if draft is None:
            return False
        clear, _ = self.vault.reveal(text or "", sender)
        if draft.stage == "items":
            return bool(re.fullmatch(r"[\d\s,，、和及与]+", clear.strip())) or any(
                w in clear for w in ("全部", "都办", "所有", "先办", "只办", "只要", "除了", "除咗"))
        if draft.stage == "verify":
            return bool(VERIFIED_RE.search(clear))
        if draft.stage != "fields" or not draft.pending:
            return False
        spec = self.apps.form(draft.bundle_id).field(draft.pending)
        return spec.type in STRICT_TYPES and check(spec, clear, draft.values, self.today).ok

    def answer(self, sender: str, text: str, intent: str | None = None,
               decision: Decision | None = None) -> Turn:
        draft = self.apps.open_draft(sender)
        if draft is None:
            return Turn(finished=True).say(render.no_open_form())
        clear, _ = self.vault.reveal(text or "", sender)
        clear = clear.strip()
        if CANCEL_RE.search(clear):  # explicit words only: a misread answer must not wipe the form
            self.apps.cancel(draft.id)
            return Turn(finished=True).say(render.cancelled())
        turn = Turn()
        form = self.apps.form(draft.bundle_id)
        if draft.stage in ("fields", "confirm", "consent") and self._edit(draft, form, clear, turn):
            self.apps.save(draft)
            return turn
        if draft.stage == "items":
            turn = self._on_items(draft, form, clear, intent, turn, decision)
        else:
            turn = getattr(self, f"_on_{draft.stage}")(draft, form, clear, intent, turn)
        if not turn.finished:
            self.apps.save(draft)
        return turn

    # -- stages -----------------------------------------------------------
    def _on_items(self, draft: DraftView, form: FormSpec, text: str, intent, turn: Turn,
                  decision: Decision | None = None) -> Turn:
        bundle = self.apps.kb.bundle(draft.bundle_id)
        requested = parse_choice(bundle, text, yes=_yes(text, intent),
                                 listed=list(decision.items) if decision else None)
        if not requested:
            if intent == "start_application":  # "继续申请" again: just ask again
                return turn
            return turn.say(render.items_not_understood())
        self._choose(draft, form, bundle, requested, decision, turn)
        return turn

    def _choose(self, draft: DraftView, form: FormSpec, bundle, requested: list[str],
                decision: Decision | None, turn: Turn) -> None:
        """Apply the bundle's rules to the requested items; on to the fields
        unless two of them exclude each other (then the item question again)."""
        proofs = {k for f in form.fields for k in f.unless_chosen}
        choice = apply_rules(bundle, requested, decision, proofs, pull_prerequisites=True)
        if choice.conflicts:
            turn.say(render.items_conflict(choice))
            return
        draft.items = choice.keys
        turn.say(render.items_chosen(bundle, choice))
        draft.stage = "fields"
        self._advance(draft, form, turn)

    def _on_consent(self, draft: DraftView, form: FormSpec, text: str, intent, turn: Turn) -> Turn:
        """Pre-fill only for the holder of the 身份证号, once their identity is verified."""
        if _yes(text, intent):
            status = self.shared.identities.status(draft.sender)
            if status.state == "passed":
                self._prefill(draft, form, turn)
                return turn
            started = self.shared.identities.start(draft.sender)
            if started.state == "pending":
                draft.stage = "verify"  # the prompt gives the verification page
                return turn
            draft.consent = False
            turn.say(messages.text("prefill", "verify_limited" if started.state == "limited"
                                   else "verify_unavailable"))
        elif _no(text, intent):
            draft.consent = False
            turn.say(messages.text("prefill", "manual"))
        else:
            return turn.say(messages.text("prefill", "consent_hint"))
        self._advance(draft, form, turn)
        return turn

    def _on_verify(self, draft: DraftView, form: FormSpec, text: str, intent, turn: Turn) -> Turn:
        if _no(text, intent):
            draft.consent = False
            turn.say(messages.text("prefill", "manual"))
            self._advance(draft, form, turn)
            return turn
        status = self.shared.identities.status(draft.sender)
        if status.state == "passed":
            self._prefill(draft, form, turn)
            return turn
        if status.state == "pending":
            return turn.say(messages.text("prefill", "verify_pending"))  # the prompt repeats the page
        draft.consent = False
        turn.say(messages.text("prefill", "verify_failed"))
        self._advance(draft, form, turn)
        return turn

    def _prefill(self, draft: DraftView, form: FormSpec, turn: Turn) -> None:
        """Fill what shared data knows about the verified applicant, then go on."""
        result = self.shared.lookup(draft.sender, draft.values["applicant_id_number"])
        if result.outcome in (MISMATCH, LIMITED, UNVERIFIED):
            draft.consent = False
            key = {MISMATCH: "mismatch", LIMITED: "limited"}.get(result.outcome, "verify_failed")
            turn.say(messages.text("prefill", key))
        else:
            record, filled = result.record or {}, []
            for spec in form.fields_for(draft.items):
                value = record.get(spec.prefill) if spec.prefill else None
                if not value or spec.id in draft.values:
                    continue
                checked = check(spec, value, draft.values, self.today)
                if checked.ok:
                    draft.values[spec.id] = checked.value
                    draft.prefilled.append(spec.id)
                    filled.append(spec)
            draft.consent = True
            turn.say(render.prefilled(filled, draft.values))
        self._advance(draft, form, turn)

    def _on_fields(self, draft: DraftView, form: FormSpec, text: str, intent, turn: Turn) -> Turn:
        spec = form.field(draft.pending) if draft.pending else None
        if spec is None:
            self._advance(draft, form, turn)
            return turn
        checked = check(spec, text, draft.values, self.today)
        if not checked.ok:
            if intent == "start_application":  # "我要申请" again mid-form: just ask again
                return turn
            return turn.say(checked.error)
        draft.values[spec.id] = checked.value
        if spec.id in draft.prefilled:
            draft.prefilled.remove(spec.id)
        self._advance(draft, form, turn)
        return turn

    def _on_confirm(self, draft: DraftView, form: FormSpec, text: str, intent, turn: Turn) -> Turn:
        if not _confirmed(text, intent):
            return turn.say(render.confirm_hint())
        self.apps.save(draft)
        try:
            app = self.apps.submit(draft.id)
        except IncompleteForm:
            self._advance(draft, form, turn)
            return turn.say("还有几项没填，我们补上再提交。")
        bundle = self.apps.kb.bundle(draft.bundle_id)
        turn.finished = True
        return turn.say(*render.submitted(bundle, app))

    # -- helpers ----------------------------------------------------------
    def _advance(self, draft: DraftView, form: FormSpec, turn: Turn) -> None:
        """Move to the next question: consent once the id is known, then each empty field."""
        if draft.stage == "items":
            return
        id_number = draft.values.get("applicant_id_number")
        if id_number and draft.consent is None:
            # Asked whenever the form has fields shared data could fill and the channel
            # can verify the citizen: never because a record exists (that would tell).
            fillable = [f for f in form.fields_for(draft.items) if f.prefill and f.id not in draft.values]
            if fillable and self.shared.available(draft.sender):
                draft.stage, draft.pending = "consent", None
                return
            draft.consent = False
        for spec in form.fields_for(draft.items):
            if spec.id not in draft.values:
                draft.stage, draft.pending = "fields", spec.id
                return
        draft.stage, draft.pending = "confirm", None

    def _edit(self, draft: DraftView, form: FormSpec, text: str, turn: Turn) -> bool:
        """"电话改成139…" sets a field; "改一下地址" asks it again. False: not an edit."""
        fields = form.fields_for(draft.items)
        names = sorted(((n, f) for f in fields for n in f.names), key=lambda p: -len(p[0]))
        for name, spec in names:
            m = re.search(re.escape(name) + r"\s*(?:要|需要)?" + EDIT_VERB + r"\s*[:：]?\s*(.+)", text)
            if m and m.group(1).strip() and not REOPEN_RE.fullmatch(m.group(1).strip()):
                return self._set(draft, form, spec, m.group(1), turn)
            if name in text and REOPEN_RE.search(text):
                draft.values.pop(spec.id, None)
                draft.stage, draft.pending = "fields", spec.id
                turn.say(f"好的，重新填写{spec.label}。")
                return True
        return False

    def _set(self, draft: DraftView, form: FormSpec, spec: FieldSpec, value: str, turn: Turn) -> bool:
        checked = check(spec, value, draft.values, self.today)
        if not checked.ok:
            turn.say(checked.error)
            return True
        draft.values[spec.id] = checked.value
        if spec.id in draft.prefilled:
            draft.prefilled.remove(spec.id)
        turn.say(f"已把{spec.label}改为 {render.show_value(spec, checked.value)}。")
        if draft.stage != "consent" and (draft.pending == spec.id or draft.stage == "confirm"):
            self._advance(draft, form, turn)
        return True


RETRY_WINDOW_S = 600


def recent_submission(apps: Applications, sender: str, text: str):
    """The application this sender just submitted, when `text` repeats the confirmation.

    A retried or double-sent "确认提交" arrives after the form has closed; it
    must point at the existing application, never start a second one.
    """
    if not CONFIRM_RE.search(text or ""):
        return None
    latest = next(iter(apps.applications(sender)), None)
    if latest is None:
        return None
    at = latest.submitted_at if latest.submitted_at.tzinfo else latest.submitted_at.replace(tzinfo=timezone.utc)
    return latest if (datetime.now(timezone.utc) - at).total_seconds() < RETRY_WINDOW_S else None
