"""Answers to questions about a bundle or one of its items, fitted to the
citizen's situation (情形引导) and city when known."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
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
    choice_buttons,
    chooses_items,
    likely_bundles,
    listed,
    listed_slot,
    place,
    subject,
    text_of,
)
from actions.kb import knowledge
from bot.kb.guidance import Guidance, alternatives, guidance, item_places
from bot.kb.places import Places

GUIDE_FORM = "guide_form"


@dataclass
class Context:
    subject: Subject
    guidance: Guidance
    places: Places
    city: str | None
    district: str | None
    slot: dict  # the new value of the situation slot

    @property
    def city_name(self) -> str | None:
        city, district = self.places.locate(self.city, self.district)
        if city is None:
            return None
        return city.name + (district.name if district else "")


def context(tracker: Tracker, s: Subject) -> tuple[Context, dict]:
    """The answer's context and the new `situation` slot value."""
    kb = knowledge()
    mine, slot = answers(tracker, s.bundle)
    city, district = place(tracker)
    places = kb.places()
    return Context(s, guidance(s.bundle, places, mine, city, district), places, city, district, slot), slot


class BundleAnswer(Action, ABC):
    """Answer about the bundle in context, or ask which bundle is meant.

    Abstract, so rasa_sdk registers only the concrete answers below."""

    intent = ""
    topic = ""  # what the clarifying question asks about

    @abstractmethod
    def text(self, c: Context) -> str:
        """The reply for a known subject."""

    def messages(self, c: Context) -> list[tuple[str, list[dict]]]:
        return [(self.text(c), self.follow_ups(c.subject))]

    def after(self, c: Context, tracker: Tracker) -> list[dict]:
        return []

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
        if chooses_items(text_of(tracker)) and listed(tracker, s.bundle) and active_loop(tracker) != "application_form":
            # "只要户口和医保" read as a question: it chooses items of the list shown
            return [FollowupAction("action_start_application")]
        c, _ = context(tracker, s)
        for text, buttons in self.messages(c):
            dispatcher.utter_message(text=text, buttons=buttons or None)
        extra = self.after(c, tracker)
        return [SlotSet("bundle", s.bundle.id), SlotSet("item", s.item.key if s.item else None),
                SlotSet("situation", c.slot), *extra]


class ActionBundleOverview(BundleAnswer):
    """The bundle's items for the citizen's case. While the situation has open
    questions, the guide asks them (guide_form) one at a time; once it is
    known, the personal list: items, one set of materials, time limits, where."""

    intent, topic = "ask_bundle", "办理事项"

    def name(self) -> str:
        return "action_bundle_overview"

    def text(self, c: Context) -> str:
        return render.overview(c.subject.bundle, c.guidance if c.subject.bundle.guide else None)

    def messages(self, c: Context) -> list[tuple[str, list[dict]]]:
        g = c.guidance
        if g.decision.ineligible:
            return [render.ineligible(g)]
        if c.subject.bundle.guide.questions and g.decision.complete:
            return render.personal_list(g, c.city_name)
        buttons = render.requirement_buttons(g) or self.follow_ups(c.subject)
        return [(self.text(c), buttons)]

    def after(self, c: Context, tracker: Tracker) -> list[dict]:
        g = c.guidance
        events = [SlotSet("listed_items", listed_slot(c.subject.bundle, g.decision.items))]
        if g.decision.pending and not g.decision.ineligible and active_loop(tracker) != "application_form":
            c.slot[GUIDE_KEY] = c.subject.bundle.id
            events += [SlotSet("guide_answer", None), SlotSet("guide_misses", None)]
            if active_loop(tracker) != GUIDE_FORM:
                events += [SlotSet("guide_next", None), FollowupAction(GUIDE_FORM)]
        elif active_loop(tracker) == GUIDE_FORM:
            events.append(SlotSet("guide_answer", "done"))  # nothing left to ask: the guide closes
        return events

    def clarify(self) -> str:
        # "what must I do" with no recognisable life event: we did not understand it
        return render.not_understood()


class ActionBundleMaterials(BundleAnswer):
    intent, topic = "ask_materials", "材料"

    def name(self) -> str:
        return "action_bundle_materials"

    def text(self, c: Context) -> str:
        s, g = c.subject, c.guidance
        if s.item:
            needs = knowledge().materials(s.bundle.id, [s.item.key], g.decision)
            return render.materials(s.bundle, needs, s.item)
        return render.materials(s.bundle, g.materials, None, personal=bool(g.case), total=len(g.items))


class ActionBundleDepartment(BundleAnswer):
    intent, topic = "ask_department", "办理地点"

    def name(self) -> str:
        return "action_bundle_department"

    def text(self, c: Context) -> str:
        s, g = c.subject, c.guidance
        if s.item is None:
            return render.department(s.bundle, None, city_name=c.city_name, g=g)
        if s.item.key in {k for grp in g.decision.open_groups for k in grp} or (
                s.item.key not in g.decision.items and any(s.item.key in grp for grp in s.bundle.guide.exclusive)
                and not g.decision.complete):
            options = alternatives(s.bundle, s.item.key, c.places, g.decision.answers, c.city, c.district)
            if options:
                return render.department_alternatives(s.item, options, c.city_name)
        places = item_places(s.item, g.decision, c.places, c.city, c.district)
        return render.department(s.bundle, s.item, places, c.city_name)


class ActionBundleTimeLimit(BundleAnswer):
    intent, topic = "ask_time_limit", "办理时限"

    def name(self) -> str:
        return "action_bundle_time_limit"

    def text(self, c: Context) -> str:
        return render.time_limit(c.subject.bundle, c.subject.item, c.guidance.items)


class ActionBundleFee(BundleAnswer):
    intent, topic = "ask_fee", "费用"

    def name(self) -> str:
        return "action_bundle_fee"

    def text(self, c: Context) -> str:
        return render.fee(c.subject.bundle, c.subject.item, c.guidance.items)


class ActionBundleOnline(BundleAnswer):
    intent, topic = "ask_online", "网上办理"

    def name(self) -> str:
        return "action_bundle_online"

    def text(self, c: Context) -> str:
        return render.online(c.subject.bundle, c.subject.item, c.guidance.items)


class ActionListBundles(Action):
    def name(self) -> str:
        return "action_list_bundles"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        bundles = knowledge().bundles()
        dispatcher.utter_message(text=render.bundle_list(bundles))
        return []
