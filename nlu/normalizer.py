"""Rasa component: normalise Chinese text before tokenisation (see nlu.normalize)."""

from __future__ import annotations

import json
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.normalize import Normalizer, load_table

TABLE_FILE = "normalization.json"
# No citizen message needs more to be understood; a longer one (a 20,000-character
# /model/parse) would cost seconds of CPU in every later component. The cut keeps
# a vault token whole. Training examples are never cut.
MAX_TEXT_CHARS = 1000


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class ChineseNormalizer(GraphComponent):
    """Rewrites TEXT to simplified, half-width Mandarin; keeps entity offsets right.

    The replacement table is read from `table` at training time and stored in the
    model, so a trained model behaves the same wherever it is loaded.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"table": "data/normalization.yml"}

    def __init__(self, config: dict[str, Any], storage: ModelStorage, resource: Resource,
                 table: dict[str, str] | None = None):
        self._config = config
        self._storage = storage
        self._resource = resource
        self._table = table or {}
        self._normalizer = Normalizer(self._table)

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> ChineseNormalizer:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> ChineseNormalizer:
        with model_storage.read_from(resource) as path:
            table = json.loads((path / TABLE_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, table)

    def train(self, training_data: TrainingData) -> Resource:
        self._table = load_table(self._config["table"])
        self._normalizer = Normalizer(self._table)
        with self._storage.write_to(self._resource) as path:
            (path / TABLE_FILE).write_text(json.dumps(self._table, ensure_ascii=False), encoding="utf-8")
        return self._resource

    def _normalize_message(self, message: Message, cap: bool = False) -> None:
        text = message.get(TEXT)
        if not text:
            return
        if cap and len(text) > MAX_TEXT_CHARS:
            text = _cut(text, MAX_TEXT_CHARS)
            message.set(TEXT, text)
        result = self._normalizer.normalize(text)
        if result.text == text:
            return
        message.set(TEXT, result.text)
        for entity in message.get(ENTITIES) or []:
            start, end = result.span(entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END])
            entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END] = start, end

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._normalize_message(message)
        for table in training_data.lookup_tables:
            elements = table.get("elements")
            if isinstance(elements, list):
                table["elements"] = list(dict.fromkeys(self._normalizer(str(e)) for e in elements))
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalize_message(message, cap=True)
        return messages


def _cut(text: str, limit: int) -> str:
    """The first `limit` characters, without splitting a ⟪…⟫ token."""
    head = text[:limit]
    opened = head.rfind("⟪")
    if opened > head.rfind("⟫"):
        head = head[:opened]
    return head
