"""Out-of-scope questions: where a service that is not one of our bundles is handled.

The NLU names the service in an `elsewhere` entity (nlu.bundle_resolver, from the
catalogue data/elsewhere.yml seeded by bot.kb.elsewhere); the answer points there
and never gives a bundle's answer. Without a known service, the general
out-of-scope reply.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.db import session_scope
from bot.kb.elsewhere import lookup

ENTITY = "elsewhere"


def service_id(tracker: Tracker) -> str | None:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == ENTITY and entity.get("value"):
            return str(entity["value"])
    return None


class ActionElsewhere(Action):
    def name(self) -> str:
        return "action_elsewhere"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        sid = service_id(tracker)
        service = None
        if sid:
            with session_scope() as session:
                service = lookup(session, sid)
        if service is None:
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        dispatcher.utter_message(
            response="utter_elsewhere", name=service.name, office=service.office,
            channels="、".join(c.how for c in service.channels), note=service.note or "",
        )
        return []
