"""Rasa component: decide which bundle (and item) a message is about.

A life event is rarely a clean span ("我爸走了后面要办啥"), so the `bundle`
entity is resolved per message, in order of evidence:
1. a bundle name or colloquial synonym from the knowledge base in the text;
2. an item name that belongs to exactly one bundle (出生医学证明 → newborn),
   or to several, then the classifier picks among them;
3. a char n-gram classifier trained on the annotated examples, when confident.
The value is always a canonical bundle id. Messages whose intent cannot be about
a bundle (greet, out_of_scope …) get none. The classifier's top bundles are also
returned as `bundle_ranking` so the fallback can offer likely choices.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from nlu.gazetteer import Gazetteer, Match

NONE = "none"
MODEL_FILE = "bundle_resolver.json"
ARRAYS_FILE = "bundle_resolver.npz"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class BundleResolver(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "entity": "bundle",
            "item_entity": "item",
            "threshold": 0.5,
            "ngram_range": [1, 3],
            "C": 8.0,
            "no_bundle_intents": [
                "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge",
                "out_of_scope", "request_human", "inform", "list_bundles", "rate_service",
            ],
            "ranking_length": 3,
        }

    def __init__(self, config: dict[str, Any], storage: ModelStorage, resource: Resource,
                 gazetteer: Gazetteer | None = None, vectorizer: TfidfVectorizer | None = None,
                 classifier: LogisticRegression | None = None):
        self._config = {**self.get_default_config(), **config}
        self._storage = storage
        self._resource = resource
        self.gazetteer = gazetteer or Gazetteer(())
        self.vectorizer = vectorizer
        self.classifier = classifier

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> BundleResolver:
        return cls(config, model_storage, resource)

    # -- training ---------------------------------------------------------
    def _label(self, message: Message) -> str:
        for entity in message.get(ENTITIES) or []:
            if entity.get("entity") == self._config["entity"]:
                return str(entity.get("value"))
        return NONE

    def train(self, training_data: TrainingData) -> Resource:
        self.gazetteer = Gazetteer.from_lookup_tables(training_data.lookup_tables)
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        texts = [m.get(TEXT) for m in examples]
        labels = [self._label(m) for m in examples]
        self.vectorizer = TfidfVectorizer(
            analyzer="char", ngram_range=tuple(self._config["ngram_range"]), sublinear_tf=True,
            min_df=1,
        )
        features = self.vectorizer.fit_transform(texts)
        self.classifier = LogisticRegression(C=self._config["C"], max_iter=3000, class_weight="balanced")
        self.classifier.fit(features, labels)
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._storage.write_to(self._resource) as path:
            meta = {
                "gazetteer": self.gazetteer.to_json(),
                "vocabulary": {k: int(v) for k, v in self.vectorizer.vocabulary_.items()},
                "classes": [str(c) for c in self.classifier.classes_],
                "ngram_range": list(self.vectorizer.ngram_range),
            }
            (path / MODEL_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            np.savez(path / ARRAYS_FILE, idf=self.vectorizer.idf_, coef=self.classifier.coef_,
                     intercept=self.classifier.intercept_)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> BundleResolver:
        with model_storage.read_from(resource) as path:
            meta = json.loads((path / MODEL_FILE).read_text(encoding="utf-8"))
            arrays = np.load(path / ARRAYS_FILE)
            vectorizer = TfidfVectorizer(analyzer="char", ngram_range=tuple(meta["ngram_range"]),
                                         sublinear_tf=True, vocabulary=meta["vocabulary"])
            vectorizer.idf_ = arrays["idf"]
            classifier = LogisticRegression()
            classifier.classes_ = np.array(meta["classes"])
            classifier.coef_ = arrays["coef"]
            classifier.intercept_ = arrays["intercept"]
        return cls(config, model_storage, resource, Gazetteer.from_json(meta["gazetteer"]),
                   vectorizer, classifier)

    # -- inference --------------------------------------------------------
    def _probabilities(self, text: str) -> dict[str, float]:
        if self.classifier is None or self.vectorizer is None:
            return {}
        probs = self.classifier.predict_proba(self.vectorizer.transform([text]))[0]
        return {str(c): float(p) for c, p in zip(self.classifier.classes_, probs, strict=True)}

    def resolve(self, text: str, intent: str | None) -> tuple[dict | None, dict | None, list[dict]]:
        """Return (bundle entity, item entity, ranking) for normalised `text`."""
        probs = self._probabilities(text)
        ranking = [
            {"name": b, "confidence": round(p, 4)}
            for b, p in sorted(probs.items(), key=lambda kv: -kv[1]) if b != NONE
        ][: self._config["ranking_length"]]
        if intent in self._config["no_bundle_intents"]:
            return None, None, ranking
        matches = self.gazetteer.find(text)
        bundle_hits = [m for m in matches if m.kind == "bundle"]
        item_hits = [m for m in matches if m.kind == "item"]

        def best(candidates: list[Match]) -> Match:
            return max(candidates, key=lambda m: (probs.get(m.bundle_id, 0.0), -m.start))

        chosen: Match | None = None
        confidence = 1.0
        if bundle_hits:
            chosen = best(bundle_hits)
        elif item_hits:
            chosen = best(item_hits)
            if len({m.bundle_id for m in item_hits}) > 1:
                # 社保卡 belongs to several bundles: only the classifier can tell which
                confidence = probs.get(chosen.bundle_id, 0.0)
                if confidence < self._config["threshold"]:
                    chosen = None
        bundle_entity = None
        if chosen is not None:
            bundle_entity = self._entity(self._config["entity"], chosen.bundle_id, chosen.start,
                                         chosen.end, text, confidence)
        else:
            top = max(probs.items(), key=lambda kv: kv[1]) if probs else (NONE, 0.0)
            if top[0] != NONE and top[1] >= self._config["threshold"]:
                bundle_entity = self._entity(self._config["entity"], top[0], 0, len(text), text, top[1])
        item_entity = None
        if bundle_entity is not None:
            item_hits = [m for m in item_hits if m.bundle_id == bundle_entity["value"]]
        if item_hits:
            first = item_hits[0]
            if all(h.item_key == first.item_key for h in item_hits if h.start == first.start):
                item_entity = self._entity(self._config["item_entity"], first.item_key,
                                           first.start, first.end, text, 1.0)
        return bundle_entity, item_entity, ranking

    def _entity(self, name: str, value: str, start: int, end: int, text: str, conf: float) -> dict:
        return {
            "entity": name, "value": value, "start": start, "end": end,
            "confidence_entity": round(float(conf), 4), "extractor": self.__class__.__name__,
        }

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            intent = (message.get(INTENT) or {}).get("name")
            bundle, item, ranking = self.resolve(text, intent)
            kept = [e for e in message.get(ENTITIES, [])
                    if e.get("entity") not in (self._config["entity"], self._config["item_entity"])]
            kept += [e for e in (bundle, item) if e]
            message.set(ENTITIES, kept, add_to_output=True)
            message.set("bundle_ranking", ranking, add_to_output=True)
        return messages
