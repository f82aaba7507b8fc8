"""Rasa's check of action server answers, with the validator built once
(bot.rasa_server.validate_actions_once): still refuses what Rasa refuses."""

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.rasa_server import validate_actions_once


def test_action_answers_are_checked_as_rasa_checks_them():
    validate_actions_once()
    action = RemoteAction("action_bundle_overview", None)
    assert action._validate_action_result({
        "events": [{"event": "slot", "name": "bundle", "value": "newborn", "timestamp": None}],
        "responses": [{"text": "新生儿出生"}]})
    with pytest.raises(ValidationError) as err:
        action._validate_action_result({"events": [{"event": "slot"}], "responses": "x"})
    assert "Failed to validate Action server response" in err.value.message
