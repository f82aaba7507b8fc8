"""The gap in Rasa's pause that Rasa leaves open: slot extraction.

A paused tracker gets no prediction, but Rasa 3.6's MessageProcessor.handle_message
runs `action_extract_slots` for every message first, paused or not — so a citizen
writing "结婚登记要带什么" to an agent would still move the `bundle` slot (and the
draft's form slots) behind the agent's back. `install()` wraps that one step: for
a paused tracker it does nothing, so the citizen's words during a take-over are
recorded (UserUttered, for the console) and change no slot. Everything else in
Rasa is untouched.

Installed by our tracker store (bot.tracker_store), so every Rasa process that keeps
our conversations — `make run`'s servers, the tests' — has it; idempotent.
"""

from __future__ import annotations

_INSTALLED = False


def install() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor.run_action_extract_slots

    async def run_action_extract_slots(self, output_channel, tracker):
        if tracker.is_paused():
            return tracker  # an agent holds this conversation: no slot changes
        return await original(self, output_channel, tracker)

    run_action_extract_slots.__wrapped__ = original
    MessageProcessor.run_action_extract_slots = run_action_extract_slots
    _INSTALLED = True
