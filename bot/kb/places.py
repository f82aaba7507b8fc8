"""Where to go: kinds of place (分娩医院, 户籍所在地派出所, 区政务服务中心综合窗口,
粤省事 …) and the 21 cities of Guangdong with their districts, from data/places.yml.

Items name the kinds of place they are done at (`where:` in the bundle files);
`Places.describe` turns a kind into what to tell a citizen, for their city and
district when known (a city's own text wins over the kind's template).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELDS = re.compile(r"\{(\w+)\}")
TEMPLATE_FIELDS = {"city", "district", "area"}


@dataclass(frozen=True)
class PlaceKind:
    id: str
    name: str
    text: str                 # when the city is not known
    local: str | None = None  # template with {city} {district} {area}
    online: bool = False


@dataclass(frozen=True)
class District:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    not_before: tuple[str, ...] = ()


@dataclass(frozen=True)
class City:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    not_before: tuple[str, ...] = ()
    district_word: str = "各区"
    districts: tuple[District, ...] = ()
    places: tuple[tuple[str, str], ...] = ()  # (kind id, the city's own text)

    @property
    def short(self) -> str:
        return self.name[:-1] if self.name.endswith("市") else self.name

    def district(self, district_id: str | None) -> District | None:
        return next((d for d in self.districts if d.id == district_id), None)


@dataclass(frozen=True)
class Place:
    """One place to tell a citizen about."""

    kind: str
    name: str
    text: str
    online: bool
    local: bool  # the text names their city


@dataclass(frozen=True)
class Places:
    kinds: dict[str, PlaceKind] = field(default_factory=dict)
    cities: dict[str, City] = field(default_factory=dict)

    def city(self, city_id: str | None) -> City | None:
        return self.cities.get(city_id) if city_id else None

    def locate(self, city_id: str | None, district_id: str | None) -> tuple[City | None, District | None]:
        """The city and district to use; a district of another city is ignored.

        `district_id` may be 'city.district' (the NLU's value) or a bare id."""
        city = self.city(city_id)
        if district_id and "." in district_id:
            owner, district_id = district_id.split(".", 1)
            if city is None:
                city = self.city(owner)
            elif owner != city.id:
                return city, None
        return city, city.district(district_id) if city else None

    def describe(self, kind_id: str, city_id: str | None = None, district_id: str | None = None) -> Place:
        kind = self.kinds[kind_id]
        city, district = self.locate(city_id, district_id)
        if city is None or kind.online and kind_id not in dict(city.places):
            return Place(kind.id, kind.name, kind.text, kind.online, False)
        own = dict(city.places).get(kind_id)
        template = own or kind.local
        if template is None:
            return Place(kind.id, kind.name, kind.text, kind.online, False)
        values = {
            "city": city.name,
            "district": district.name if district else city.district_word,
            "area": city.name + (district.name if district else ""),
        }
        return Place(kind.id, kind.name, template.format(**values), kind.online, True)

    def to_json(self) -> dict[str, Any]:
        return {
            "kinds": {k.id: _kind_json(k) for k in self.kinds.values()},
            "cities": {c.id: _city_json(c) for c in self.cities.values()},
        }


def _kind_json(k: PlaceKind) -> dict[str, Any]:
    out: dict[str, Any] = {"name": k.name, "text": k.text}
    if k.local:
        out["local"] = k.local
    if k.online:
        out["online"] = True
    return out


def _city_json(c: City) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name, "aliases": list(c.aliases), "district_word": c.district_word,
                           "districts": {}}
    if c.not_before:
        out["not_before"] = list(c.not_before)
    for d in c.districts:
        dj: dict[str, Any] = {"name": d.name}
        if d.aliases:
            dj["aliases"] = list(d.aliases)
        if d.not_before:
            dj["not_before"] = list(d.not_before)
        out["districts"][d.id] = dj
    if c.places:
        out["places"] = dict(c.places)
    return out


Problems = list[tuple[str, str]]


def _texts(value: Any, path: str, problems: Problems) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append((path, "must be a list of texts"))
        return ()
    return tuple(v.strip() for v in value if v.strip())


def _template(text: str, path: str, problems: Problems) -> None:
    for name in _FIELDS.findall(text):
        if name not in TEMPLATE_FIELDS:
            problems.append((path, f"unknown field {{{name}}} (use {{city}}, {{district}} or {{area}})"))


def parse_places(raw: Any) -> tuple[Places, Problems]:
    """Read data/places.yml; problems are (field path, message)."""
    problems: Problems = []
    if not isinstance(raw, Mapping):
        return Places(), [("", "expected a mapping with 'kinds' and 'cities'")]
    kinds: dict[str, PlaceKind] = {}
    for kid, k in (raw.get("kinds") or {}).items():
        p = f"kinds.{kid}"
        if not ID_RE.match(str(kid)):
            problems.append((p, f"'{kid}' must be snake_case"))
        if not isinstance(k, Mapping) or not k.get("name") or not k.get("text"):
            problems.append((p, "needs 'name' and 'text'"))
            continue
        local = k.get("local")
        if local is not None:
            _template(str(local), f"{p}.local", problems)
        kinds[str(kid)] = PlaceKind(str(kid), str(k["name"]), str(k["text"]),
                                    str(local) if local else None, bool(k.get("online", False)))
    cities: dict[str, City] = {}
    seen_names: dict[str, str] = {}
    for cid, c in (raw.get("cities") or {}).items():
        p = f"cities.{cid}"
        if not ID_RE.match(str(cid)):
            problems.append((p, f"'{cid}' must be snake_case"))
        if not isinstance(c, Mapping) or not c.get("name"):
            problems.append((p, "needs a 'name'"))
            continue
        districts = []
        for did, d in (c.get("districts") or {}).items():
            dp = f"{p}.districts.{did}"
            if not ID_RE.match(str(did)):
                problems.append((dp, f"'{did}' must be snake_case"))
            if not isinstance(d, Mapping) or not d.get("name"):
                problems.append((dp, "needs a 'name'"))
                continue
            districts.append(District(str(did), str(d["name"]), _texts(d.get("aliases"), f"{dp}.aliases", problems),
                                      _texts(d.get("not_before"), f"{dp}.not_before", problems)))
        own = c.get("places") or {}
        if not isinstance(own, Mapping):
            problems.append((f"{p}.places", "must map place kinds to text"))
            own = {}
        for kind_id, text in own.items():
            if kind_id not in kinds:
                problems.append((f"{p}.places.{kind_id}", f"unknown place kind '{kind_id}'"))
            _template(str(text), f"{p}.places.{kind_id}", problems)
        city = City(str(cid), str(c["name"]), _texts(c.get("aliases"), f"{p}.aliases", problems),
                    _texts(c.get("not_before"), f"{p}.not_before", problems),
                    str(c.get("district_word") or "各区"), tuple(districts),
                    tuple((str(k), str(v)) for k, v in own.items()))
        named = [(city.name, p, p), *((a, f"{p}.aliases", p) for a in city.aliases),
                 *((n, f"{p}.districts.{d.id}", f"{p}.districts.{d.id}") for d in districts
                   for n in (d.name, *d.aliases))]
        for name, where, owner in named:
            other = seen_names.setdefault(name, owner)
            if other != owner:
                problems.append((where, f"'{name}' also names {other}"))
        cities[str(cid)] = city
    return Places(kinds, cities), problems
