"""Low-confidence messages: offer the likely bundles instead of a dead end; after
N of them in a row (data/handoff.yml), a person (actions/handoff.py)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions import render
from actions.context import choice_buttons, likely_bundles, picks_listed_items
from actions.handoff import fallbacks_in_a_row, handoff, handoff_reply
from actions.kb import knowledge


class ActionBundleFallback(Action):
    def name(self) -> str:
        return "action_bundle_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        if picks_listed_items(tracker, knowledge()):  # "先办1和3" after a list
            return [FollowupAction("action_start_application")]
        if fallbacks_in_a_row(tracker) >= handoff().config.fallbacks_in_a_row:
            dispatcher.utter_message(text=handoff_reply(tracker, "fallback", "fallback_intro"))
            return []
        bundles = likely_bundles(tracker, knowledge())
        dispatcher.utter_message(
            text=render.not_understood(),
            buttons=choice_buttons("ask_bundle", bundles),
        )
        return []
