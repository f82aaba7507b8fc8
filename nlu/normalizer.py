"""Rasa component: normalise Chinese text before tokenisation (see nlu.normalize)."""

from __future__ import annotations

import json
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.normalize import MAX_LENGTH, Normalizer, is_vocabulary_word, load_shape_groups, load_table

TABLE_FILE = "normalization.json"
VOCABULARY_LOOKUPS = ("bundle:", "item:", "elsewhere:", "vocabulary", "department", "material")
ID_LOOKUPS = ("audience:", "confused:")
MIN_WORD_COUNT = 3
MIN_MINED_LENGTH = 3
MIN_PART_NAMES = 2


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class ChineseNormalizer(GraphComponent):
    """Rewrites TEXT to simplified, half-width Mandarin; keeps entity offsets right.

    The replacement table is read from `table` at training time and stored in the
    model, so a trained model behaves the same wherever it is loaded. So is the
    vocabulary that typos are corrected against (nlu.fuzzy): the knowledge base's
    names (the lookup tables nlu-export generates) and the words that at least
    three training examples use (材料, 手续, 多久 …).
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"table": "data/normalization.yml", "max_length": MAX_LENGTH, "fuzzy": True}

    def __init__(self, config: dict[str, Any], storage: ModelStorage, resource: Resource,
                 state: dict[str, Any] | None = None):
        self._config = {**self.get_default_config(), **config}
        self._storage = storage
        self._resource = resource
        self._state = state or {"table": {}, "vocabulary": [], "shape_groups": [], "kept": []}
        self._normalizer = self._build()

    def _build(self) -> Normalizer:
        return Normalizer(self._state["table"], self._state["vocabulary"],
                          self._state["shape_groups"], max_length=self._config["max_length"],
                          kept=self._state.get("kept", ()))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> ChineseNormalizer:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> ChineseNormalizer:
        with model_storage.read_from(resource) as path:
            state = json.loads((path / TABLE_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, state)

    def train(self, training_data: TrainingData) -> Resource:
        table = load_table(self._config["table"])
        plain = Normalizer(table)
        vocabulary: list[str] = []
        kept: list[str] = []
        shapes = load_shape_groups(self._config["table"])
        if self._config["fuzzy"]:
            vocabulary = self._vocabulary(training_data, plain)
            kept = self._kept_forms(training_data, plain, vocabulary, shapes)
        self._state = {"table": table, "vocabulary": vocabulary, "shape_groups": shapes,
                       "kept": kept}
        self._normalizer = self._build()
        with self._storage.write_to(self._resource) as path:
            (path / TABLE_FILE).write_text(json.dumps(self._state, ensure_ascii=False),
                                           encoding="utf-8")
        return self._resource

    @staticmethod
    def _vocabulary(training_data: TrainingData, plain: Normalizer) -> list[str]:
        """The knowledge base's names and the words several of them share (退休 from
        办退休, 退休手续 …), and the longer domain words (3+ characters, unknown to
        general Chinese) that at least three training examples use.
        Left out: a word part only one name has (电报 of 用电报装 is a wrong cut, 办间
        of 办间公司 no word), everyday words (干什么, 办公室: the general word model
        already knows them, and too many ordinary words sound like them)."""
        from nlu.normalize import general_cut, general_frequency

        words: dict[str, None] = {}
        part_names: dict[str, set[str]] = {}
        for table in training_data.lookup_tables:
            name = str(table.get("name", ""))
            elements = table.get("elements")
            if name.startswith(VOCABULARY_LOOKUPS) and isinstance(elements, list):
                for element in elements:
                    phrase = plain(str(element))
                    words[phrase] = None
                    for w in general_cut(phrase):
                        if len(w) >= 2 and w != phrase:
                            part_names.setdefault(w, set()).add(phrase)
        words.update(dict.fromkeys(w for w, names in part_names.items()
                                   if len(names) >= MIN_PART_NAMES))
        counts = ChineseNormalizer._word_counts(training_data, plain)
        words.update(dict.fromkeys(w for w, c in counts.items()
                                   if c >= MIN_WORD_COUNT and len(w) >= MIN_MINED_LENGTH
                                   and not general_frequency(w)))
        return sorted(w for w in words if is_vocabulary_word(w))

    @staticmethod
    def _word_counts(training_data: TrainingData, plain: Normalizer) -> dict[str, int]:
        from nlu.normalize import general_cut

        counts: dict[str, int] = {}
        for message in training_data.training_examples:
            text = message.get(TEXT)
            if text:
                for w in set(general_cut(plain(text))):
                    counts[w] = counts.get(w, 0) + 1
        return counts

    @staticmethod
    def _kept_forms(training_data: TrainingData, plain: Normalizer, vocabulary: list[str],
                    shape_groups: list[str]) -> list[str]:
        """Spans our own messages write at least as often as the vocabulary word
        they sound or look like (件事 of 一件事 beside 监事; 办件 beside 办间): a way of
        writing that is common here, so not a slip. Counted in messages."""
        from nlu.fuzzy import MAX_LENGTH as MAX_WORD
        from nlu.fuzzy import FuzzyCorrector, ShapeGroups, is_hanzi

        corrector = FuzzyCorrector(vocabulary, ShapeGroups(shape_groups))
        lengths = sorted({len(w) for w in corrector.vocabulary})
        grams: dict[str, int] = {}
        texts = [plain(m.get(TEXT)) for m in training_data.training_examples if m.get(TEXT)]
        for text in texts:
            seen = set()
            for n in lengths:
                if n > MAX_WORD:
                    continue
                for i in range(len(text) - n + 1):
                    seen.add(text[i:i + n])
            for g in seen:
                grams[g] = grams.get(g, 0) + 1
        kept = []
        for g, c in grams.items():
            if c < MIN_WORD_COUNT or g in corrector.vocabulary or not all(is_hanzi(ch) for ch in g):
                continue
            words = corrector.candidates(g)
            if words and c >= max(grams.get(w, 0) for w in words):
                kept.append(g)
        return sorted(kept)

    def _normalize_message(self, message: Message) -> None:
        text = message.get(TEXT)
        if not text or text.startswith(INTENT_MESSAGE_PREFIX):
            return  # a button payload (/ask_materials{"bundle":"newborn"}) is read as is
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
            if str(table.get("name", "")).startswith(ID_LOOKUPS):
                continue  # lists of bundle ids, not text
            if isinstance(elements, list):
                table["elements"] = list(dict.fromkeys(self._normalizer(str(e)) for e in elements))
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalize_message(message)
        return messages
