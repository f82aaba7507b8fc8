"""The guide (情形引导) in the conversation: one short question at a time with
buttons, until the citizen's case is known; then their personal list.

Rasa's guide_form only routes replies here, as the application form does:
questions (材料、地点 …) asked meanwhile are answered by rules and the guide
asks again; a reply that chooses items ("先办1和3") or leaves (取消, 再见)
closes the guide and action_guide_done runs what was asked for.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import render
from actions.answers import context
from actions.application import dialog
from actions.context import (
    Subject,
    answers,
    chooses_items,
    guide_bundle,
    listed,
    listed_slot,
    text_of,
    texts_of,
)
from actions.forms import AskingFormValidation
from actions.kb import knowledge
from bot.kb.situations import SKIPPED
from bot.kb.wording import say

FORM = "guide_form"
SLOT = "guide_answer"
CHOOSE = "__choose__"
# Intents answered by a rule while the guide waits (data/rules.yml), unless the
# message is in fact an answer to the question asked.
QUESTION_INTENTS = frozenset({
    "ask_bundle", "ask_materials", "ask_department", "ask_time_limit", "ask_fee", "ask_online",
    "list_bundles", "check_status", "request_human", "bot_challenge", "greet", "thank",
    "rate_service", "start_application",
})
# Messages that leave the guide: after it closes, this runs.
LEAVE = {"cancel": "action_cancel_application", "goodbye": "utter_goodbye",
         "out_of_scope": "utter_out_of_scope"}


def _bundle(tracker: Tracker):
    return guide_bundle(tracker, knowledge())


class ValidateGuideForm(AskingFormValidation):
    """Reads each reply and asks the next question, in one call (actions/forms.py)."""

    SLOT = SLOT

    def name(self) -> str:
        return f"validate_{FORM}"

    async def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        """The guide's question: the first one the citizen's case still needs."""
        bundle = _bundle(tracker)
        if bundle is None:
            return [SlotSet(SLOT, "done")]
        mine, _ = answers(tracker, bundle, read_message=False)
        q = bundle.guide.next_question(mine)
        if q is None:
            return [SlotSet(SLOT, "done")]
        text, buttons = render.guide_question(q)
        dispatcher.utter_message(text=text, buttons=buttons)
        return []

    async def extract_guide_answer(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: dict[str, Any]) -> dict[str, Any]:
        """The citizen's reply, unless it is a question (then the guide waits)."""
        if tracker.get_slot("requested_slot") != SLOT:
            return {}
        bundle = _bundle(tracker)
        if bundle is None:
            return {SLOT: "done"}
        mine, _ = answers(tracker, bundle, read_message=False)
        q = bundle.guide.next_question(mine)
        text = text_of(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if q is None:
            return {SLOT: "done"}
        for said in texts_of(tracker):
            if bundle.guide.reply(q, said) is not None:
                return {SLOT: said}
        if chooses_items(text) and listed(tracker, bundle):
            return {SLOT: CHOOSE}
        if intent in LEAVE:
            return {SLOT: "__" + intent}
        if intent in QUESTION_INTENTS:
            return {}
        return {SLOT: text}

    def validate_guide_answer(self, value: Any, dispatcher: CollectingDispatcher,
                              tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        if not value:
            return {SLOT: None}
        if value == "done":
            return {SLOT: "done"}
        if value == CHOOSE:
            return {SLOT: "done", "guide_next": "action_start_application"}
        if isinstance(value, str) and value.startswith("__") and value[2:] in LEAVE:
            return {SLOT: "done", "guide_next": LEAVE[value[2:]]}
        bundle = _bundle(tracker)
        if bundle is None:
            return {SLOT: "done"}
        mine, slot = answers(tracker, bundle, read_message=False)
        q = bundle.guide.next_question(mine)
        if q is None:
            return {SLOT: "done"}
        choice = bundle.guide.reply(q, str(value))
        if choice is None and not tracker.get_slot("guide_misses"):
            text, buttons = render.guide_question(q)
            dispatcher.utter_message(text=say("question.not_understood"), buttons=buttons)
            return {SLOT: None, "guide_misses": 1.0}
        if choice is None:  # twice not an answer: leave this question open
            dispatcher.utter_message(text=say("question.skipped"))
            mine[q.id] = SKIPPED
        else:
            mine.update({k: v for k, v in bundle.guide.infer(str(value), mine).items() if k not in mine})
            mine[q.id] = choice
        slot[bundle.id] = mine
        context_slots = {"bundle": bundle.id, "item": None}  # an answer is about the guide's bundle
        if bundle.guide.next_question(mine) is not None:
            return {SLOT: None, "situation": slot, "guide_misses": None, **context_slots}
        # the case is known: the personal list (or why not eligible)
        tracker.slots.update({"situation": slot, **context_slots})
        c, _ = context(tracker, Subject(bundle, None))
        g = c.guidance
        messages = [render.ineligible(g)] if g.decision.ineligible else render.personal_list(g, c.city_name)
        for text, buttons in messages:
            dispatcher.utter_message(text=text, buttons=buttons or None)
        out = {SLOT: "done", "situation": slot, "guide_misses": None, **context_slots,
               "listed_items": listed_slot(bundle, g.decision.items)}
        if g.decision.ineligible:
            out["guide_next"] = None  # nothing to apply for
            draft = dialog().apps.open_draft(tracker.sender_id)
            if draft and draft.bundle_id == bundle.id and draft.stage == "items" and not draft.values:
                dialog().apps.cancel(draft.id)  # opened by "我要申请" before the questions
        return out


class ActionGuideDone(Action):
    """After the guide closes: reset it, then do what the citizen asked for
    ("先办1和3" → the application; "我要申请" → the application; 再见 …)."""

    def name(self) -> str:
        return "action_guide_done"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        events: list[dict] = [SlotSet(SLOT, None), SlotSet("requested_slot", None),
                              SlotSet("guide_misses", None), SlotSet("guide_next", None)]
        follow = tracker.get_slot("guide_next")
        if follow:
            events.append(FollowupAction(follow))
        return events
