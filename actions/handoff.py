"""Handing a citizen to a hotline agent, and keeping a taken-over conversation quiet.

* action_request_human — "转人工": the waiting queue with the conversation's context
  (bundle, item, the last messages; the console reads the draft and applications
  itself), or outside staffed hours a call-back ticket. `handoff_reply()` does the
  same for the fallback and rating actions (N fallbacks in a row, a 差评).
* action_session_start — Rasa's own, plus one guard: a session that starts while an
  agent holds the conversation (an hour of silence expires Rasa's session, and
  SessionStarted un-pauses the tracker) is paused again, so the bot never answers
  behind the agent's back. Slots are carried over as Rasa's default does.
* action_restart — "/restart" during a take-over changes nothing (Rasa lets a
  restart through a pause); otherwise Rasa's own behaviour.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, Restarted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import messages
from bot.handoff.service import Handoff, Queued

RECENT = 10


@cache
def handoff() -> Handoff:
    return Handoff()


def _recent(tracker: Tracker) -> list[tuple[str, str, float]]:
    out = []
    for e in tracker.events:
        kind, text = e.get("event"), e.get("text")
        if kind in ("user", "bot") and isinstance(text, str) and text.strip():
            out.append(("citizen" if kind == "user" else "bot", text, float(e.get("timestamp") or 0)))
    return out[-RECENT:]


def _context(tracker: Tracker) -> dict:
    return {k: tracker.get_slot(k) for k in ("bundle", "item", "city", "district")
            if tracker.get_slot(k)}


def queue_text(q: Queued) -> str:
    cfg = handoff().config
    if not q.staffed and q.state != "agent" and not q.already:
        return messages.text("handoff", "after_hours", hours=cfg.hours_text())
    if q.state == "agent":
        return messages.text("handoff", "with_agent")
    if q.already:
        return messages.text("handoff", "already_waiting", ahead=q.ahead)
    if q.ahead == 0:
        return messages.text("handoff", "queued_first")
    return messages.text("handoff", "queued", ahead=q.ahead, minutes=q.minutes)


def handoff_reply(tracker: Tracker, reason: str, intro: str = "") -> str:
    """Queue the conversation; the text that tells the citizen."""
    q = handoff().request(tracker.sender_id, reason, _context(tracker), _recent(tracker))
    return (messages.text("handoff", intro) if intro else "") + queue_text(q)


def fallbacks_in_a_row(tracker: Tracker, action: str = "action_bundle_fallback") -> int:
    """How many of the citizen's latest turns in a row the bot did not understand: this
    one (the fallback action is running) plus the turns before it answered by the
    fallback action, whether the NLU (nlu_fallback) or the policy (core fallback) chose it."""
    turns: list[set[str]] = []
    for e in tracker.events:
        if e.get("event") == "user":
            turns.append(set())
        elif e.get("event") == "action" and turns and e.get("name"):
            turns[-1].add(e["name"])
    count = 1
    for actions in reversed(turns[:-1]):
        if action not in actions:
            break
        count += 1
    return count


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        dispatcher.utter_message(text=handoff_reply(tracker, "request_human"))
        return []


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        events: list[dict] = [SessionStarted()]
        if (domain.get("session_config") or {}).get("carry_over_slots_to_new_session", True):
            events += [SlotSet(k, v) for k, v in tracker.current_slot_values().items()
                       if v is not None and k != "session_started_metadata"]
        if handoff().paused(tracker.sender_id):
            events.append(ConversationPaused())
        events.append(ActionExecuted("action_listen"))
        return events


class ActionRestart(Action):
    def name(self) -> str:
        return "action_restart"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict]:
        if handoff().paused(tracker.sender_id):
            return []  # an agent holds the conversation: nothing is reset behind them
        if "utter_restart" in (domain.get("responses") or {}):
            dispatcher.utter_message(response="utter_restart")
        return [Restarted()]
