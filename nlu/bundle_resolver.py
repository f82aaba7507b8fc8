"""Rasa component: decide which bundle (and item) a message is about.

A life event is rarely a clean span ("我爸走了后面要办啥"), so the `bundle`
entity is resolved per message, in order of evidence:
0. the names found in the text, longest first, never overlapping: a service
   handled elsewhere (data/elsewhere.yml: 护照, 公积金贷款, 营业执照变更 …) whose
   name is longer than any bundle or item name found means "not one of our
   bundles": no bundle, an `elsewhere` entity naming the service, and a bundle
   question becomes out_of_scope (the answer points to where it is handled);
1. a bundle name or colloquial synonym from the knowledge base in the text
   (the longest one if several);
2. an item name that belongs to exactly one bundle (出生医学证明 → newborn), or to
   several (就业登记): then the classifier reads the message with that name
   masked, so the rest of it (跑外卖 … → flexible_employment) decides;
3. a char n-gram classifier trained on the annotated examples, when confident;
   in a long message the clearest clause counts too;
4. a word that only occurs inside one bundle's names (退休, 残疾): short
   messages rarely carry more.
The value is always a canonical bundle id. Messages whose intent cannot be about
a bundle (greet, out_of_scope …) get none. The classifier's top bundles are also
returned as `bundle_ranking` so the fallback can offer likely choices.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from nlu.fuzzy import char_sounds
from nlu.gazetteer import Gazetteer, Match
from nlu.normalize import general_words

NONE = "none"
OUT_OF_SCOPE = "out_of_scope"
CLAUSE_KEEP = re.compile(r"(?<=[,，。.!！?？;；~～\s])")
CLAUSE = re.compile(r"[,，。.!！?？;；、~～]+")
AUDIENCE_PREFIX = "audience:"  # lookup audience:<audience> lists bundle ids
CONFUSED_PREFIX = "confused:"  # lookup confused:<service> lists bundle ids
TOGETHER_PREFIX = "together:"  # together:<service>:<n>:names|deeds, one clause holds both
KNOWN_LOOKUPS = ("material", "department", "vocabulary")  # other names of the knowledge base
GENERIC_LOOKUP = "gate:generic"  # nouns any question may carry (材料, 时间, 老婆 …): no object
PREFER_PREFIX = "prefer:"  # prefer:<bundle>:<over bundle> lists cue words (公司, 厂房 …)
BUNDLE_QUESTIONS = ["ask_bundle", "ask_materials", "ask_department", "ask_time_limit", "ask_fee",
                    "ask_online", "start_application", "nlu_fallback"]


def _pos_words(text: str) -> list[tuple[str, str]]:
    """(word, part of speech) as general Chinese (Jieba's own dictionary) cuts `text`."""
    import jieba.posseg

    from nlu.normalize import _general_tokenizer, _jieba_frequencies

    global _POS
    if _POS is None:
        _jieba_frequencies()
        _POS = jieba.posseg.POSTokenizer(_general_tokenizer())
    return [(p.word, p.flag) for p in _POS.cut(text, HMM=False) if p.word.strip()]


_POS = None


def _sounds_like(word: str, sounds: set[tuple[str, str]]) -> bool:
    """Whether two neighbouring characters of `word` sound like two of our names'."""
    return any((a, b) in sounds for i in range(len(word) - 1)
               for a in char_sounds(word[i]) for b in char_sounds(word[i + 1]))


def _top(probs: dict[str, float]) -> tuple[str, float]:
    bundles = [(b, p) for b, p in probs.items() if b != NONE]
    return max(bundles, key=lambda kv: kv[1]) if bundles else (NONE, 0.0)
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
            "elsewhere_entity": "elsewhere",
            "elsewhere_intents": BUNDLE_QUESTIONS,
            "elsewhere_confidence": 0.9,
            "shared_item_share": 0.6,
            "confused_threshold": 0.8,
            "audience_weight": 2.0,
            "part_min_examples": 3,
            "part_share": 0.8,
            "long_message": 16,
            "solver": "saga",  # as nlu.intent_classifier: same model, a fraction of the time
            "tol": 1e-3,
            "random_state": 13,  # saga shuffles: the same content trains the same model
            # the unknown-object gate: a bundle question about a thing no name of the
            # knowledge base or the catalogue covers, with no bundle evidence, is out of
            # scope; so is one with no bundle that the intent classifier also found
            # likely out of scope (gate_oos_probability)
            "gate_intents": ["ask_bundle", "ask_materials", "ask_department", "ask_time_limit",
                             "ask_fee", "ask_online"],
            "gate_max_probability": 0.2,
            "gate_oos_probability": 0.2,
            "condition_on_bundle": True,
            "gate_pos": ["n", "nz", "vn", "nt", "nl", "ng"],
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
        self.audience: dict[str, str] = {}
        self.confused: dict[str, list[str]] = {}
        self.parts: dict[str, str] = {}
        self.together: dict[str, dict[str, dict[str, list[str]]]] = {}
        self.audience_classifier: LogisticRegression | None = None
        self.known: list[str] = []
        self.generic: list[str] = []
        self.prefer: dict[str, dict[str, list[str]]] = {}

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
        self.audience, self.confused, self.together = {}, {}, {}
        self.known, self.generic, self.prefer = [], [], {}
        for table in training_data.lookup_tables:
            name, elements = str(table.get("name", "")), table.get("elements") or []
            if name.startswith(AUDIENCE_PREFIX):
                self.audience.update({str(b): name[len(AUDIENCE_PREFIX):] for b in elements})
            elif name.startswith(CONFUSED_PREFIX):
                self.confused[name[len(CONFUSED_PREFIX):]] = [str(b) for b in elements]
            elif name.startswith(TOGETHER_PREFIX):
                sid, n, side = name[len(TOGETHER_PREFIX):].rsplit(":", 2)
                pairs = self.together.setdefault(sid, {})
                pairs.setdefault(n, {"names": [], "deeds": []})[side] = [str(e) for e in elements]
            elif name in KNOWN_LOOKUPS:
                self.known += [str(e) for e in elements]
            elif name == GENERIC_LOOKUP or name.startswith("focus:"):
                self.generic += [str(e) for e in elements]
            elif name.startswith(PREFER_PREFIX):
                winner, loser = name[len(PREFER_PREFIX):].split(":", 1)
                self.prefer.setdefault(winner, {})[loser] = [str(e) for e in elements]
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        texts = [m.get(TEXT) for m in examples]
        labels = [self._label(m) for m in examples]
        self.vectorizer = TfidfVectorizer(
            analyzer="char", ngram_range=tuple(self._config["ngram_range"]), sublinear_tf=True,
            min_df=1,
        )
        features = self.vectorizer.fit_transform(texts)
        self.classifier = self._logistic()
        self.classifier.fit(features, labels)
        # Who the message is about (a company or a person) pools the evidence of all
        # bundles of an audience: 公司 … 过户 is enterprise real estate, not a flat.
        rows = [i for i, label in enumerate(labels) if label in self.audience]
        audiences = [self.audience[labels[i]] for i in rows]
        self.audience_classifier = None
        if len(set(audiences)) > 1:
            self.audience_classifier = self._logistic()
            self.audience_classifier.fit(features[rows], audiences)
        self.parts = self._distinctive_parts(texts, labels)
        self.persist()
        return self._resource

    def _logistic(self) -> LogisticRegression:
        return LogisticRegression(C=self._config["C"], max_iter=3000, class_weight="balanced",
                                  solver=self._config["solver"], tol=self._config["tol"],
                                  random_state=self._config["random_state"])

    def _distinctive_parts(self, texts: list[str], labels: list[str]) -> dict[str, str]:
        """Parts of one bundle's names (退休 of 办退休) that the training examples
        use (almost) only about that bundle; 申请 (of 退休申请) is not one."""
        out = {}
        for part, owners in self.gazetteer.owners_of_parts().items():
            if len(owners) != 1:
                continue
            (owner,) = owners
            hits = [label for text, label in zip(texts, labels, strict=True) if part in text]
            mine = sum(label == owner for label in hits)
            if mine >= self._config["part_min_examples"] and mine / len(hits) >= self._config["part_share"]:
                out[part] = owner
        return out

    def persist(self) -> None:
        with self._storage.write_to(self._resource) as path:
            meta = {
                "gazetteer": self.gazetteer.to_json(),
                "vocabulary": {k: int(v) for k, v in self.vectorizer.vocabulary_.items()},
                "classes": [str(c) for c in self.classifier.classes_],
                "ngram_range": list(self.vectorizer.ngram_range),
                "audience": self.audience, "confused": self.confused, "parts": self.parts,
                "together": self.together, "known": self.known, "generic": self.generic,
                "prefer": self.prefer,
                "audience_classes": ([str(c) for c in self.audience_classifier.classes_]
                                     if self.audience_classifier is not None else []),
            }
            (path / MODEL_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            arrays = {"idf": self.vectorizer.idf_, "coef": self.classifier.coef_,
                      "intercept": self.classifier.intercept_}
            if self.audience_classifier is not None:
                arrays.update(aud_coef=self.audience_classifier.coef_,
                              aud_intercept=self.audience_classifier.intercept_)
            np.savez(path / ARRAYS_FILE, **arrays)

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
            audience_classifier = None
            if meta.get("audience_classes"):
                audience_classifier = LogisticRegression()
                audience_classifier.classes_ = np.array(meta["audience_classes"])
                audience_classifier.coef_ = arrays["aud_coef"]
                audience_classifier.intercept_ = arrays["aud_intercept"]
        component = cls(config, model_storage, resource, Gazetteer.from_json(meta["gazetteer"]),
                        vectorizer, classifier)
        component.audience = meta.get("audience", {})
        component.confused = meta.get("confused", {})
        component.parts = meta.get("parts", {})
        component.together = meta.get("together", {})
        component.audience_classifier = audience_classifier
        component.known = meta.get("known", [])
        component.generic = meta.get("generic", [])
        component.prefer = meta.get("prefer", {})
        return component

    # -- inference --------------------------------------------------------
    def _probabilities(self, text: str) -> dict[str, float]:
        if self.classifier is None or self.vectorizer is None or not text.strip():
            return {}
        features = self.vectorizer.transform([text])
        row = self.classifier.predict_proba(features)[0]
        probs = {str(c): float(p) for c, p in zip(self.classifier.classes_, row, strict=True)}
        if self.audience_classifier is not None:
            aud = dict(zip(self.audience_classifier.classes_,
                           self.audience_classifier.predict_proba(features)[0], strict=True))
            mass = sum(p for b, p in probs.items() if b != NONE)
            gamma = self._config["audience_weight"]
            weighted = {b: p * aud.get(self.audience.get(b), 1.0) ** gamma
                        for b, p in probs.items() if b != NONE}
            total = sum(weighted.values())
            if total > 0:
                probs.update({b: p * mass / total for b, p in weighted.items()})
        return probs

    def _clause_probabilities(self, text: str) -> dict[str, float]:
        """Long messages tell a story around the question (“我老婆上个月在广州生了…”):
        the whole text dilutes the evidence, so the clearest clause also counts."""
        probs = self._probabilities(text)
        clauses = [c for c in CLAUSE.split(text) if len(c.strip()) >= 4]
        if (len(text) < self._config["long_message"] or len(clauses) < 2
                or _top(probs)[1] >= self._config["threshold"]):
            return probs
        best = probs
        for clause in clauses:
            p = self._probabilities(clause)
            if _top(p)[1] > _top(best)[1]:
                best = p
        return best

    def _together(self, text: str) -> list[Match]:
        """Services named by a name and a deed in one clause (营业执照…丢了…补办)."""
        found = []
        offset = 0
        for clause in CLAUSE_KEEP.split(text):
            for sid, pairs in self.together.items():
                for pair in pairs.values():
                    names = [(clause.find(t), t) for t in pair["names"] if t in clause]
                    deeds = [(clause.find(t), t) for t in pair["deeds"] if t in clause]
                    if names and deeds:
                        (ns, nt) = max(names, key=lambda x: len(x[1]))
                        (ds, dt) = max(deeds, key=lambda x: len(x[1]))
                        start, end = min(ns, ds), max(ns + len(nt), ds + len(dt))
                        found.append(Match("elsewhere", sid, offset + start, offset + end,
                                           len(nt) + len(dt)))
            offset += len(clause)
        return found

    def _confused_context(self, text: str, service: Match) -> tuple[str, float] | None:
        bundles = self.confused.get(service.target) or []
        if not bundles:
            return None
        context = self._probabilities(self._masked(text, service))
        bundle, p = max(((b, context.get(b, 0.0)) for b in bundles), key=lambda kv: kv[1])
        return (bundle, p) if p >= self._config["confused_threshold"] else None

    @staticmethod
    def _masked(text: str, match: Match) -> str:
        return text[: match.start] + " " + text[match.end:]

    def _preferred(self, text: str, bundle: str, probs: dict[str, float]) -> str | None:
        """A bundle that a name of another one (过户登记 of a flat) is to be read as, when
        the message carries its cues (公司, 厂房 …: lookup prefer:<bundle>:<other>) and
        the classifier agrees: 公司买的厂房要过户登记 is enterprise real estate."""
        for winner, losers in self.prefer.items():
            cues = losers.get(bundle)
            if cues and any(c in text for c in cues) and probs.get(winner, 0.0) > probs.get(bundle, 0.0):
                return winner
        return None

    def _part_evidence(self, words: list[str]) -> str | None:
        """A word of the message that only occurs inside one bundle's names (退休 in
        办退休, 退休手续 …): the bundle, when all such words agree."""
        owners = {self.parts[w] for w in words if w in self.parts}
        return next(iter(owners)) if len(owners) == 1 else None

    def resolve(self, text: str, intent: str | None, words: list[str] | None = None
                ) -> tuple[dict | None, dict | None, list[dict], dict | None]:
        """(bundle entity, item entity, ranking, elsewhere entity) for normalised `text`."""
        probs = self._clause_probabilities(text)
        ranking = [
            {"name": b, "confidence": round(p, 4)}
            for b, p in sorted(probs.items(), key=lambda kv: -kv[1]) if b != NONE
        ][: self._config["ranking_length"]]
        matches = self._words_only(text, self.gazetteer.find(text))
        if intent in self._config["no_bundle_intents"]:
            elsewhere = None
            if intent == OUT_OF_SCOPE:
                hits = [m for m in matches if m.kind == "elsewhere"] + self._together(text)
                if hits:
                    service = max(hits, key=lambda m: (m.size, -m.start))
                    longest_kb = max((m.size for m in matches if m.kind in ("bundle", "item")),
                                     default=0)
                    rescue = self._confused_context(text, service)
                    if rescue is not None:
                        # 退休了公积金怎么提取: the retirement withdrawal, not the service
                        bundle, p = rescue
                        return self._entity(self._config["entity"], bundle, 0, len(text), text, p), \
                            None, ranking, None
                    elsewhere = self._entity(self._config["elsewhere_entity"], service.target,
                                             service.start, service.end, text, 1.0)
            return None, None, ranking, elsewhere
        bundle_hits = [m for m in matches if m.kind == "bundle"]
        item_hits = [m for m in matches if m.kind == "item"]
        elsewhere_hits = [m for m in matches if m.kind == "elsewhere"] + self._together(text)
        longest_kb = max((m.size for m in bundle_hits + item_hits), default=0)
        if elsewhere_hits:
            service = max(elsewhere_hits, key=lambda m: (m.size, -m.start))
            if service.size > longest_kb:
                # the more specific name wins: 营业执照变更 is not 营业执照 ...
                rescue = self._confused_context(text, service)
                if rescue is None:
                    entity = self._entity(self._config["elsewhere_entity"], service.target,
                                          service.start, service.end, text, 1.0)
                    return None, None, ranking, entity
                # ... unless the rest of the message clearly is the bundle the service
                # is known to be confused with (人走了之后驾驶证要注销 is after_death)
                bundle, p = rescue
                return self._entity(self._config["entity"], bundle, 0, len(text), text, p), \
                    None, ranking, None

        def best(candidates: list[Match], p: dict[str, float]) -> Match:
            return max(candidates, key=lambda m: (m.end - m.start, p.get(m.bundle_id, 0.0), -m.start))

        chosen: Match | None = None
        confidence = 1.0

        def owners(m: Match) -> set[str]:
            return {t.split(".", 1)[0] for kind, t in self.gazetteer.entries.get(text[m.start:m.end], ())
                    if kind in ("bundle", "item")}

        # A name that several bundles use (社保, 就业登记, 公积金 …) is no evidence for
        # any one of them: only names of exactly one bundle decide outright.
        own_bundle = [m for m in bundle_hits if len(owners(m)) == 1]
        own_item = [m for m in item_hits if len(owners(m)) == 1]
        shared = [m for m in bundle_hits + item_hits if len(owners(m)) > 1]
        if own_bundle:
            chosen = best(own_bundle, probs)
        elif own_item:
            chosen = best(own_item, probs)
        elif shared:
            # 就业登记 belongs to hiring and to flexible employment: the rest of
            # the message decides, with the shared name masked out
            first = min(shared, key=lambda m: m.start)
            candidates = set().union(*(owners(m) for m in shared))
            context = self._probabilities(self._masked(text, first))
            share = {b: probs.get(b, 0.0) + context.get(b, 0.0) for b in candidates}
            total = sum(share.values()) or 1.0
            top_bundle, top_p = max(share.items(), key=lambda kv: kv[1])
            confidence = top_p / total
            if confidence >= self._config["shared_item_share"]:
                chosen = next((m for m in shared if m.bundle_id == top_bundle),
                              Match("bundle", top_bundle, first.start, first.end))
        bundle_entity = None
        if chosen is not None:
            preferred = self._preferred(text, chosen.bundle_id, probs)
            if preferred is not None:
                chosen = Match("bundle", preferred, chosen.start, chosen.end)
            bundle_entity = self._entity(self._config["entity"], chosen.bundle_id, chosen.start,
                                         chosen.end, text, confidence)
        elif not elsewhere_hits:
            top = _top(probs)
            if top[0] != NONE and top[1] >= self._config["threshold"]:
                bundle_entity = self._entity(self._config["entity"], top[0], 0, len(text), text, top[1])
            else:
                evidence = self._part_evidence(words or [])
                if evidence:
                    bundle_entity = self._entity(self._config["entity"], evidence, 0, len(text),
                                                 text, max(top[1], probs.get(evidence, 0.0)))
        elsewhere_entity = None
        if bundle_entity is None and elsewhere_hits:
            service = max(elsewhere_hits, key=lambda m: (m.size, -m.start))
            elsewhere_entity = self._entity(self._config["elsewhere_entity"], service.target,
                                            service.start, service.end, text, 1.0)
        item_entity = None
        if bundle_entity is not None:
            item_hits = [m for m in item_hits if m.bundle_id == bundle_entity["value"]]
        if item_hits:
            first = item_hits[0]
            if all(h.item_key == first.item_key for h in item_hits if h.start == first.start):
                item_entity = self._entity(self._config["item_entity"], first.item_key,
                                           first.start, first.end, text, 1.0)
        return bundle_entity, item_entity, ranking, elsewhere_entity

    def unknown_object(self, text: str, intent: str | None, probs: dict[str, float] | None = None
                       ) -> str | None:
        """The thing a bundle question asks about when no name of the knowledge base or
        the catalogue covers it (养狗证 要什么材料 …): a noun of the message as general
        Chinese cuts it that is neither a name of ours (bundle, item, service, document,
        office, channel, or a part of one) nor a word any question may carry (材料, 时间,
        老婆 …; data/nlu/cues.yml), when the classifier sees no bundle either. Follow-ups
        (要带什么材料, 身份证原件要带吗) have no such noun."""
        if intent not in self._config["gate_intents"]:
            return None
        probs = self._clause_probabilities(text) if probs is None else probs
        if _top(probs)[1] >= self._config["gate_max_probability"]:
            return None
        masked = text
        for m in self.gazetteer.find(text):
            masked = masked[: m.start] + " " * (m.end - m.start) + masked[m.end:]
        for word in sorted(set(self.known) | set(self.generic), key=len, reverse=True):
            if word in masked:
                masked = masked.replace(word, " " * len(word))
        parts, sounds = self._name_parts()
        for word, flag in _pos_words(masked):
            if (len(word) >= 2 and flag in self._config["gate_pos"] and word not in parts
                    and not any(word in g for g in self.generic)
                    and not _sounds_like(word, sounds)):
                return word
        return None

    def _oos_runner_up(self, message: Message, intent: str | None) -> bool:
        """A bundle question about no bundle, that the intent classifier also found
        likely out of scope."""
        if intent not in self._config["gate_intents"]:
            return False
        ranking = message.get(INTENT_RANKING_KEY) or []
        p = next((float(r.get("confidence") or 0.0) for r in ranking if r.get("name") == OUT_OF_SCOPE), 0.0)
        return p >= self._config["gate_oos_probability"]

    def _name_parts(self) -> tuple[set[str], set[tuple[str, str]]]:
        """The parts of our names, and how their two-character parts sound (a slip
        the normaliser left, 清锐 for 清税, is no unknown object)."""
        if getattr(self, "_parts_cache", None) is None:
            parts = set(self.gazetteer.owners_of_parts())
            words = parts | set(self.known)
            sounds = {(a, b) for w in words for i in range(len(w) - 1)
                      for a in char_sounds(w[i]) for b in char_sounds(w[i + 1])}
            self._parts_cache = (parts, sounds)
        return self._parts_cache

    @staticmethod
    def _words_only(text: str, matches: list[Match]) -> list[Match]:
        """A two-character service name that straddles a word of the text as general
        Chinese cuts it is not that name: 那个税 is 那个 + 税, not 个税. (Our own
        Jieba dictionary lists the names, so it would cut 那 + 个税.)"""
        short = [m for m in matches if m.kind == "elsewhere" and m.end - m.start <= 2]
        if not short:
            return matches
        cuts, pos = {0}, 0
        for word in general_words(text):
            pos += len(word)
            cuts.add(pos)
        return [m for m in matches
                if not (m in short and (m.start not in cuts or m.end not in cuts))]

    def _entity(self, name: str, value: str, start: int, end: int, text: str, conf: float) -> dict:
        return {
            "entity": name, "value": value, "start": start, "end": end,
            "confidence_entity": round(float(conf), 4), "extractor": self.__class__.__name__,
        }

    def process(self, messages: list[Message]) -> list[Message]:
        names = (self._config["entity"], self._config["item_entity"], self._config["elsewhere_entity"])
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            intent = (message.get(INTENT) or {}).get("name")
            words = [t.text for t in message.get(TOKENS_NAMES[TEXT]) or []]
            bundle, item, ranking, elsewhere = self.resolve(text, intent, words)
            kept = [e for e in message.get(ENTITIES, []) if e.get("entity") not in names]
            kept += [e for e in (bundle, item, elsewhere) if e]
            message.set(ENTITIES, kept, add_to_output=True)
            message.set("bundle_ranking", ranking, add_to_output=True)
            asks_elsewhere = elsewhere and (intent in self._config["elsewhere_intents"]
                                            or intent == OUT_OF_SCOPE)
            unknown = bundle is None and elsewhere is None and (
                self.unknown_object(text, intent) or self._oos_runner_up(message, intent))
            if asks_elsewhere or unknown:
                self._out_of_scope(message)
            elif bundle and intent == OUT_OF_SCOPE:
                self._bundle_question(message)
            elif bundle and intent in BUNDLE_QUESTIONS and self._config["condition_on_bundle"]:
                self._condition_on_bundle(message)
        return messages

    def _condition_on_bundle(self, message: Message) -> None:
        """A message about a bundle asks a bundle question: the intents that cannot be
        about one (greet, inform, list_bundles …) leave the ranking and the rest share
        their mass, so a close call among bundle questions is not a fallback."""
        ranking = message.get(INTENT_RANKING_KEY) or []
        kept = [dict(r) for r in ranking if r.get("name") not in self._config["no_bundle_intents"]
                or r.get("name") == OUT_OF_SCOPE]
        mass = sum(float(r.get("confidence") or 0.0) for r in kept)
        if not kept or mass <= 0:
            return
        for r in kept:
            r["confidence"] = float(r.get("confidence") or 0.0) / mass
        kept.sort(key=lambda r: -r["confidence"])
        message.set(INTENT, kept[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, kept, add_to_output=True)

    def _bundle_question(self, message: Message) -> None:
        """An "out of scope" service the context shows to be part of a bundle: the
        likeliest bundle question instead."""
        ranking = message.get(INTENT_RANKING_KEY) or []
        best = next((r for r in ranking if r.get("name") in BUNDLE_QUESTIONS), None)
        top = {"name": best["name"] if best else "ask_bundle",
               "confidence": self._config["elsewhere_confidence"]}
        rest = [dict(r) for r in ranking if r.get("name") != top["name"]]
        mass = sum(float(r.get("confidence") or 0.0) for r in rest)
        for r in rest:
            r["confidence"] = float(r.get("confidence") or 0.0) * (1 - top["confidence"]) / (mass or 1.0)
        message.set(INTENT, top, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [top, *rest], add_to_output=True)

    def _out_of_scope(self, message: Message) -> None:
        """A question about a service handled elsewhere is out of scope, whatever it asks."""
        ranking = message.get(INTENT_RANKING_KEY) or []
        old = message.get(INTENT) or {}
        confidence = max(float(old.get("confidence") or 0.0), self._config["elsewhere_confidence"])
        top = {"name": OUT_OF_SCOPE, "confidence": confidence}
        rest = [dict(r) for r in ranking if r.get("name") != OUT_OF_SCOPE]
        mass = sum(float(r.get("confidence") or 0.0) for r in rest)
        for r in rest:  # what is left, so the fallback does not call it ambiguous
            r["confidence"] = float(r.get("confidence") or 0.0) * (1 - confidence) / (mass or 1.0)
        message.set(INTENT, top, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [top, *rest], add_to_output=True)
