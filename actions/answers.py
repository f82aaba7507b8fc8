"""Answers to questions about a bundle or one of its items."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import render
from actions.context import Subject, choice_buttons, likely_bundles, subject
from actions.kb import knowledge


class BundleAnswer(Action, ABC):
    """Answer about the bundle in context, or ask which bundle is meant.

    Abstract, so rasa_sdk registers only the concrete answers below."""

    intent = ""
    topic = ""  # what the clarifying question asks about

    @abstractmethod
    def text(self, s: Subject) -> str:
        """The reply for a known subject."""

    def clarify(self) -> str:
        return render.clarify(self.topic)

    def follow_ups(self, s: Subject) -> list[dict]:
        return [
            {"title": title, "payload": f'/{intent}{{"bundle":"{s.bundle.id}"}}'}
            for title, intent in render.FOLLOW_UPS
            if intent != self.intent
        ][:3]

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        kb = knowledge()
        s = subject(tracker, kb)
        if s.bundle is None:
            dispatcher.utter_message(text=self.clarify(),
                                     buttons=choice_buttons(self.intent, likely_bundles(tracker, kb)))
            return []
        dispatcher.utter_message(text=self.text(s), buttons=self.follow_ups(s))
        return [SlotSet("bundle", s.bundle.id), SlotSet("item", s.item.key if s.item else None)]


class ActionBundleOverview(BundleAnswer):
    intent, topic = "ask_bundle", "办理事项"

    def name(self) -> str:
        return "action_bundle_overview"

    def text(self, s: Subject) -> str:
        return render.overview(s.bundle)

    def clarify(self) -> str:
        # "what must I do" with no recognisable life event: we did not understand it
        return render.not_understood()


class ActionBundleMaterials(BundleAnswer):
    intent, topic = "ask_materials", "材料"

    def name(self) -> str:
        return "action_bundle_materials"

    def text(self, s: Subject) -> str:
        keys = [s.item.key] if s.item else None
        return render.materials(s.bundle, knowledge().materials(s.bundle.id, keys), s.item)


class ActionBundleDepartment(BundleAnswer):
    intent, topic = "ask_department", "办理地点"

    def name(self) -> str:
        return "action_bundle_department"

    def text(self, s: Subject) -> str:
        return render.department(s.bundle, s.item)


class ActionBundleTimeLimit(BundleAnswer):
    intent, topic = "ask_time_limit", "办理时限"

    def name(self) -> str:
        return "action_bundle_time_limit"

    def text(self, s: Subject) -> str:
        return render.time_limit(s.bundle, s.item)


class ActionBundleFee(BundleAnswer):
    intent, topic = "ask_fee", "费用"

    def name(self) -> str:
        return "action_bundle_fee"

    def text(self, s: Subject) -> str:
        return render.fee(s.bundle, s.item)


class ActionBundleOnline(BundleAnswer):
    intent, topic = "ask_online", "网上办理"

    def name(self) -> str:
        return "action_bundle_online"

    def text(self, s: Subject) -> str:
        return render.online(s.bundle, s.item)


class ActionListBundles(Action):
    def name(self) -> str:
        return "action_list_bundles"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        bundles = knowledge().bundles()
        dispatcher.utter_message(text=render.bundle_list(bundles))
        return []
