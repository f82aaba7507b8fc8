"""Rasa component: the city and district of Guangdong a message names.

"在佛山生了宝宝" → city `foshan`; "深圳南山区" → city `shenzhen` and district
`shenzhen.nanshan`; "顺德" alone → district `foshan.shunde` and its city
`foshan`. Names come from data/places.yml (names and aliases of the 21
prefecture-level cities and their districts) read at training time and stored
in the model. Matching is longest first without overlaps; a name followed by
one of its `not_before` words is not the place (中山大学, 天河机场).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

NAMES_FILE = "places.json"


def read_names(path: str | Path) -> list[dict[str, Any]]:
    """[{phrase, city, district (or None), not_before}] from a places file."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    out = []
    for city_id, city in (raw.get("cities") or {}).items():
        names = [city["name"], *(city.get("aliases") or [])]
        out += [{"phrase": n, "city": city_id, "district": None,
                 "not_before": list(city.get("not_before") or [])} for n in names]
        for district_id, d in (city.get("districts") or {}).items():
            for n in [d["name"], *(d.get("aliases") or [])]:
                out.append({"phrase": n, "city": city_id, "district": f"{city_id}.{district_id}",
                            "not_before": list(d.get("not_before") or [])})
    return out


class PlaceMatcher:
    def __init__(self, names: list[dict[str, Any]]):
        self.names = sorted((n for n in names if len(n["phrase"]) >= 2), key=lambda n: -len(n["phrase"]))

    def find(self, text: str) -> list[tuple[int, int, dict[str, Any]]]:
        taken = [False] * len(text)
        found = []
        for n in self.names:
            phrase = n["phrase"]
            start = text.find(phrase)
            while start != -1:
                end = start + len(phrase)
                after = text[end:]
                if not any(taken[start:end]) and not any(after.startswith(w) for w in n["not_before"]):
                    for i in range(start, end):
                        taken[i] = True
                    found.append((start, end, n))
                start = text.find(phrase, start + 1)
        found.sort(key=lambda f: f[0])
        return found

    def entities(self, text: str, city_entity: str = "city", district_entity: str = "district") -> list[dict]:
        """At most one city and one district: the first named (a district names its city)."""
        out: list[dict] = []
        city = district = None
        for start, end, n in self.find(text):
            if district is None and n["district"] and (city is None or city["value"] == n["city"]):
                district = _entity(district_entity, n["district"], start, end, text)
                if city is None:
                    city = _entity(city_entity, n["city"], start, end, text)
            elif city is None and n["district"] is None:
                city = _entity(city_entity, n["city"], start, end, text)
        out += [e for e in (city, district) if e]
        return out


def _entity(name: str, value: str, start: int, end: int, text: str) -> dict:
    return {"entity": name, "value": value, "start": start, "end": end, "confidence_entity": 1.0,
            "extractor": "PlaceExtractor", "text": text[start:end]}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class PlaceExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"places": "data/places.yml", "city_entity": "city", "district_entity": "district"}

    def __init__(self, config: dict[str, Any], storage: ModelStorage, resource: Resource,
                 names: list[dict[str, Any]] | None = None):
        self._config = {**self.get_default_config(), **config}
        self._storage = storage
        self._resource = resource
        self.matcher = PlaceMatcher(names or [])

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> PlaceExtractor:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        names = read_names(self._config["places"])
        self.matcher = PlaceMatcher(names)
        with self._storage.write_to(self._resource) as path:
            (path / NAMES_FILE).write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> PlaceExtractor:
        with model_storage.read_from(resource) as path:
            names = json.loads((path / NAMES_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, names)

    def process(self, messages: list[Message]) -> list[Message]:
        city_entity, district_entity = self._config["city_entity"], self._config["district_entity"]
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            kept = [e for e in message.get(ENTITIES, []) if e.get("entity") not in (city_entity, district_entity)]
            found = self.matcher.entities(text, city_entity, district_entity)
            if found:
                message.set(ENTITIES, kept + found, add_to_output=True)
        return messages
