"""What a form turn costs in action-server calls, counted by the action server
itself (its call log, ACTIONS_CALL_LOG in rasa_sdk_plugins): one call per form
turn — the form's validation action reads the reply and asks the next question
(actions/forms.py) — through the real Rasa server and action server."""

from __future__ import annotations

import pytest

from bot.applications.service import Applications
from tests.dialogue.conftest import RestChat
from tests.dialogue.guide import guide_is_asking

pytestmark = pytest.mark.model


class CountingChat(RestChat):
    """A RestChat that knows which actions the action server ran for each turn."""

    def __init__(self, stack):
        super().__init__(stack)
        self.calls: list[str] = []
        self._seen = 0

    def say(self, text: str) -> str:
        reply = super().say(text)
        every = self.stack.calls(self.sender)
        self.calls, self._seen = every[self._seen:], len(every)
        return reply


def test_a_guide_turn_is_one_action_call(stack, kb):
    chat = CountingChat(stack)
    chat.say("你好")  # the session starts (action_session_start)
    chat.say("孩子出生要办什么")
    assert guide_is_asking(chat, kb)
    # the answer, then the guide opens and asks its first question: one call for the form
    assert chat.calls == ["action_bundle_overview", "validate_guide_form"]

    chat.say("要带什么材料")  # a question while the guide asks: answered, then it asks again
    assert guide_is_asking(chat, kb)
    # the form sees it is no reply (Rasa rejects the form), the rule answers, the form asks again
    assert chat.calls == ["validate_guide_form", "action_bundle_materials", "validate_guide_form"]

    for _ in range(6):
        chat.say(chat.last[-1]["buttons"][0]["payload"])  # a reply to the question
        if not guide_is_asking(chat, kb):
            break
        assert chat.calls == ["validate_guide_form"]  # read the reply and ask the next: one call
    assert not guide_is_asking(chat, kb)
    assert chat.calls == ["validate_guide_form", "action_guide_done"]  # the guide closes


def test_an_application_turn_is_one_action_call(stack, kb):
    apps = Applications(kb)
    chat = CountingChat(stack)
    chat.say("你好")
    chat.say("BB出世要搞咩手续")
    chat.say("帮我办")  # the guide asks first
    assert chat.calls == ["validate_guide_form", "action_start_application", "validate_guide_form"]
    assert "为您办理2项" in chat.say("1和3")
    # the guide closes; the application opens and asks its first question: one call for the form
    assert chat.calls == ["validate_guide_form", "action_guide_done", "action_start_application",
                          "validate_application_form"]
    pending = apps.open_draft(chat.sender).pending
    chat.say("440106199203151025")
    assert apps.open_draft(chat.sender).pending != pending
    assert chat.calls == ["validate_application_form"]  # read the reply and ask the next: one call
    chat.say("要带什么材料？")
    assert "出生医学证明" in chat.last[0]["text"]
    assert chat.calls == ["validate_application_form", "action_bundle_materials",
                          "validate_application_form"]
