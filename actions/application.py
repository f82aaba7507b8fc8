"""The application form in the conversation: Rasa's form only routes replies;
bot.applications.dialog decides what they mean and what to ask next."""

from __future__ import annotations

import contextlib
from functools import lru_cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import render
from actions.context import (
    GUIDE_KEY,
    Subject,
    active_loop,
    answers,
    asks_to_apply,
    choice_buttons,
    chooses_items,
    citizen_text,
    guide_bundle,
    likely_bundles,
    listed,
    listed_slot,
    place,
    subject,
    text_of,
)
from actions.forms import AskingFormValidation
from actions.kb import knowledge
from bot.applications.choice import parse_choice
from bot.applications.dialog import ApplicationDialog, recent_submission
from bot.applications.render import submitted
from bot.applications.service import Applications, NotFound
from bot.kb.guidance import guidance
from bot.kb.situations import Decision
from bot.kb.wording import say

FORM = "application_form"
SLOT = "application_answer"
# Questions answered by a rule while the form waits (data/rules.yml), unless the
# message is in fact a valid reply to the field asked.
QUESTION_INTENTS = frozenset({
    "ask_bundle", "ask_materials", "ask_department", "ask_time_limit", "ask_fee", "ask_online",
    "list_bundles", "check_status", "request_human", "bot_challenge", "greet", "thank",
    "rate_service",
})


@lru_cache(maxsize=1)
def dialog() -> ApplicationDialog:
    return ApplicationDialog(Applications(knowledge()))


def _say(dispatcher: CollectingDispatcher, turn) -> None:
    for m in turn.messages:
        dispatcher.utter_message(text=m.text, buttons=m.buttons or None)


def _decision(tracker: Tracker, bundle_id: str) -> Decision:
    """The citizen's situation for the draft's bundle, as the guide left it."""
    bundle = knowledge().bundle(bundle_id)
    mine, _ = answers(tracker, bundle, read_message=False)
    return knowledge().decide(bundle_id, mine)


class ActionStartApplication(Action):
    """"我要申请", "先办1和3": start (or resume) the application for the bundle in
    context, with the items the citizen's situation needs.

    While that situation still has open questions, the guide asks them first
    (a wish such as "想提前退休" is guided, not applied for at once); an
    explicit request to apply continues into the application afterwards."""

    def name(self) -> str:
        return "action_start_application"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        d, kb, sender = dialog(), knowledge(), tracker.sender_id
        text = text_of(tracker)
        s = subject(tracker, kb)
        if tracker.latest_action_name == "action_guide_done":  # right after the guide: its bundle
            s = Subject(guide_bundle(tracker, kb), None)
        draft = d.apps.open_draft(sender)
        if draft and (s.bundle is None or s.bundle.id == draft.bundle_id):
            bundle_id = draft.bundle_id
        elif s.bundle is None:
            dispatcher.utter_message(text=render.clarify("申请"),
                                     buttons=choice_buttons("start_application", likely_bundles(tracker, kb)))
            return []
        else:
            bundle_id = s.bundle.id
        done = None if draft else recent_submission(d.apps, sender, text)
        if done is not None:
            dispatcher.utter_message(text=f"您的申请已提交（编号 {done.number}），不会重复提交。")
            return []
        bundle = kb.bundle(bundle_id)
        # right after the guide, its last answer has been read already
        mine, slot = answers(tracker, bundle, read_message=tracker.latest_action_name != "action_guide_done")
        decision = kb.decide(bundle_id, mine)
        events: list[dict] = [SlotSet("bundle", bundle_id), SlotSet("situation", slot)]
        shown = listed(tracker, bundle) or list(decision.items)
        chosen = parse_choice(bundle, text, listed=shown) if chooses_items(text) else None
        if decision.ineligible:
            city, district = place(tracker)
            message, buttons = render.ineligible(guidance(bundle, kb.places(), mine, city, district))
            dispatcher.utter_message(text=message, buttons=buttons)
            return events
        undecided = {k for group in decision.open_groups for k in group}
        fresh = draft is None or (draft.bundle_id == bundle_id and draft.stage == "items" and not draft.values)
        if fresh and decision.pending and (chosen is None or undecided & set(chosen)):
            if asks_to_apply(text):  # "我要申请": the questions, then the application
                if draft is None:  # the draft exists at once (the mini-program shows it); items come after
                    with contextlib.suppress(NotFound):  # no online form: told after the questions
                        d.apps.start(sender, bundle_id)
                dispatcher.utter_message(text=say("choose.start_guided", n=len(decision.pending)))
            else:  # a wish ("想提前退休"): what may apply, then the questions
                city, district = place(tracker)
                g = guidance(bundle, kb.places(), mine, city, district)
                dispatcher.utter_message(text=render.overview(bundle, g), buttons=render.requirement_buttons(g) or None)
                events.append(SlotSet("listed_items", listed_slot(bundle, decision.items)))
            slot[GUIDE_KEY] = bundle_id
            events += [SlotSet("situation", slot),
                       SlotSet("guide_next", "action_start_application" if asks_to_apply(text) else None),
                       SlotSet("guide_misses", None)]
            if active_loop(tracker) != "guide_form":
                events += [SlotSet("guide_answer", None), FollowupAction("guide_form")]
            return events
        try:
            turn = d.begin(sender, bundle_id, decision, chosen)
        except NotFound:  # no online form for this bundle yet
            dispatcher.utter_message(text=render.apply_offline(bundle))
            return events
        _say(dispatcher, turn)
        if d.apps.open_draft(sender) is None or d.apps.open_draft(sender).bundle_id != bundle_id:
            return events
        return [*events, SlotSet("item", None), SlotSet(SLOT, None), SlotSet("guide_answer", None),
                SlotSet("requested_slot", None), FollowupAction(FORM)]


class ValidateApplicationForm(AskingFormValidation):
    """Reads each reply and asks what the draft needs next, in one call (actions/forms.py)."""

    SLOT = SLOT

    def name(self) -> str:
        return f"validate_{FORM}"

    async def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        """The form's question: whatever the draft needs next."""
        draft = dialog().apps.open_draft(tracker.sender_id)
        decision = _decision(tracker, draft.bundle_id) if draft else None
        message = dialog().prompt(tracker.sender_id, decision)
        if message is None:
            dispatcher.utter_message(text="这份申请已经结束了。需要办理可以说“我要申请”。")
            return [SlotSet(SLOT, "done")]
        dispatcher.utter_message(text=message.text, buttons=message.buttons or None)
        offered = dialog().offered(tracker.sender_id, decision)
        if offered:
            return [SlotSet("listed_items", listed_slot(knowledge().bundle(draft.bundle_id), offered))]
        return []

    async def extract_application_answer(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                         domain: dict[str, Any]) -> dict[str, Any]:
        """The citizen's reply, unless it is a question (then the form waits)."""
        if tracker.get_slot("requested_slot") != SLOT:
            return {}  # the form is just opening: "我要申请" is not a reply
        text = citizen_text(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent in QUESTION_INTENTS and not dialog().accepts(tracker.sender_id, text):
            return {}
        return {SLOT: text}

    def validate_application_answer(self, value: Any, dispatcher: CollectingDispatcher,
                                    tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        if not value:  # the slot reset when the form opens, not a reply
            return {SLOT: None}
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        draft = dialog().apps.open_draft(tracker.sender_id)
        decision = _decision(tracker, draft.bundle_id) if draft else None
        turn = dialog().answer(tracker.sender_id, str(value or ""), intent, decision)
        _say(dispatcher, turn)
        return {SLOT: "done" if turn.finished else None}


class ActionApplicationDone(Action):
    """After the form closes: clear its slot so the next application starts fresh."""

    def name(self) -> str:
        return "action_application_done"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        return [SlotSet(SLOT, None), SlotSet("requested_slot", None)]


class ActionCancelApplication(Action):
    """"取消申请" outside the form (e.g. days later): cancel the open draft if any."""

    def name(self) -> str:
        return "action_cancel_application"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        d = dialog()
        draft = d.apps.open_draft(tracker.sender_id)
        if draft is None:
            dispatcher.utter_message(text="您目前没有正在填写的申请。还有什么可以帮您？")
            return []
        d.apps.cancel(draft.id)
        dispatcher.utter_message(text="好的，已取消这份申请，填写的信息已删除。需要时随时说“我要申请”。")
        return [SlotSet(SLOT, None)]


class ActionAcknowledge(Action):
    """"好的/确认" with no question pending; a retried "确认提交" gets its number back."""

    def name(self) -> str:
        return "action_acknowledge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        d = dialog()
        done = recent_submission(d.apps, tracker.sender_id, citizen_text(tracker))
        if done is not None:
            bundle = knowledge().bundle(done.bundle_id)
            text, buttons = submitted(bundle, done)
            dispatcher.utter_message(text="这份申请已经提交过了，不会重复提交。\n" + text, buttons=buttons)
            return []
        dispatcher.utter_message(response="utter_anything_else")
        return []

