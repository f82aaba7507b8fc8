"""One action-server call per form turn: the form's validation action also asks
the form's next question.

How Rasa 3.6 runs a form (rasa/core/actions/forms.py, FormAction):

* ActionExtractSlots runs first on every user message, but calls the action
  server only for a custom mapping that names an `action`, or when the domain has
  `action_validate_slot_mappings` (ActionExtractSlots._execute_custom_action and
  _execute_validation_action). Our forms' slots are `type: custom` with no action
  and there is no such action: nothing is called there. Their extraction is the
  `extract_<slot>` method of the form's validation action (rasa_sdk runs it in the
  same call as `validate_<slot>`).
* FormAction.validate / validate_slots calls `validate_<form>` once per form turn
  — at activation twice when the first call answers nothing: FormAction.activate
  validates the pre-filled slots, then FormAction.do validates again because
  `events_so_far` holds only the ActiveLoop event.
* Then, unless the form is done, FormAction.request_next_slot asks for the
  requested slot with the first of action_ask_<form>_<slot>,
  utter_ask_<form>_<slot>, action_ask_<slot>, utter_ask_<slot> in the domain
  (FormAction._name_of_utterance): a custom ask action is a second call. When the
  domain has none of them, Rasa asks nothing ("the user might have asked as part
  of a custom action", FormAction._ask_for_slot) — and if the validation's events
  already set `requested_slot`, Rasa takes that slot as requested and adds nothing.

So our forms' domain lists no ask action, and `AskingFormValidation.run` — the
validation action's rasa_sdk run (extraction, then validation) — asks itself,
in the same call, exactly when Rasa would have: when the form goes on (its slot
still empty after validation), it returns `SlotSet(requested_slot, <slot>)` and
the question (`ask()`), after the validation's own messages, as Rasa ordered
them before. When the form is done (the slot is set), it adds nothing: Rasa
closes the form as before. Because the activation's first call now always
returns events, Rasa's second validation call at activation is skipped too.

Kept as it was: a reply that is no answer (a question asked while the form
waits) still makes Rasa reject the form (no slot but requested_slot set,
FormAction.validate), and a rejected action's events — the question asked in
vain — are dropped by Rasa's processor, never sent. The rules that answer the
question then run the form again, whose one call asks again.

Not a plain response template with a slot: the questions' buttons depend on the
citizen's case and draft. Not a hook in our Rasa server: the domain and
rasa_sdk's own `run` are enough.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

REQUESTED_SLOT = "requested_slot"


class AskingFormValidation(FormValidationAction, ABC):
    """validate_<form> for a form of one slot, `SLOT`, that asks its own questions
    (abstract: rasa_sdk registers only the concrete ones)."""

    SLOT: str

    @abstractmethod
    async def ask(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        """The form's next question (what action_ask_<slot> did); its events."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        events = await super().run(dispatcher, tracker, domain)  # tracker.slots updated
        if tracker.get_slot(self.SLOT) is not None:  # done: Rasa closes the form
            return events
        return [*events, SlotSet(REQUESTED_SLOT, self.SLOT), *await self.ask(dispatcher, tracker, domain)]
